output "cluster_name" {
  description = "The EKS cluster (aws eks update-kubeconfig --name …)."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "The EKS API server's endpoint (private)."
  value       = aws_eks_cluster.this.endpoint
}

output "nlb_dns_name" {
  description = "The NLB's DNS name (the Route 53 alias target and health-check address)."
  value       = aws_lb.this.dns_name
}

output "nlb_zone_id" {
  description = "The NLB's hosted zone id, for the Route 53 alias."
  value       = aws_lb.this.zone_id
}

output "postgres_arn" {
  description = "ARN of this site's PostgreSQL instance (the secondary replicates the primary's)."
  value       = local.postgres.arn
}

output "postgres_endpoint" {
  description = "host:port of this site's PostgreSQL instance, for DATABASE_URL."
  value       = local.postgres.endpoint
}

output "postgres_master_secret_arn" {
  description = "Secrets Manager secret RDS keeps the jr user's password in (primary site only; null on the replica)."
  value       = var.role == "primary" ? aws_db_instance.primary[0].master_user_secret[0].secret_arn : null
}

output "redis_primary_endpoint" {
  description = "The Redis replication group's primary endpoint (REDIS_URL=rediss://:TOKEN@this:6379); it follows failovers."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}
