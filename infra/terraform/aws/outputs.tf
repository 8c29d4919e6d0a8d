output "api_domain_name" {
  description = "The failover name: JR_API_URL=https://<this>:8080 for the CLI, JR_API_GRPC=<this>:50051 for agents."
  value       = var.api_domain_name
}

output "database_url_hosts" {
  description = "The host list for DATABASE_URL (postgres://jr:PASSWORD@<this>/jobrunner?sslmode=verify-full): writer first, then the replica; jr-api uses whichever takes writes."
  value       = "${module.primary.postgres_endpoint},${module.secondary.postgres_endpoint}"
}

output "primary" {
  description = "The primary site: EKS cluster, NLB, PostgreSQL, Redis."
  value = {
    cluster_name           = module.primary.cluster_name
    nlb_dns_name           = module.primary.nlb_dns_name
    postgres_endpoint      = module.primary.postgres_endpoint
    postgres_secret_arn    = module.primary.postgres_master_secret_arn
    redis_primary_endpoint = module.primary.redis_primary_endpoint
  }
}

output "secondary" {
  description = "The secondary site: EKS cluster, NLB, PostgreSQL replica, Redis."
  value = {
    cluster_name           = module.secondary.cluster_name
    nlb_dns_name           = module.secondary.nlb_dns_name
    postgres_endpoint      = module.secondary.postgres_endpoint
    redis_primary_endpoint = module.secondary.redis_primary_endpoint
  }
}

output "health_check_ids" {
  description = "The Route 53 health checks on each site's /readyz (alarm on them)."
  value       = { primary = aws_route53_health_check.primary.id, secondary = aws_route53_health_check.secondary.id }
}
