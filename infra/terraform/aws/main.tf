# jobrunner on AWS in two regions: a site per region (EKS, PostgreSQL, Redis, NLB), the primary's
# PostgreSQL replicated to the secondary, and one DNS name that Route 53 fails over between the two
# NLBs on their /readyz health (dns.tf).

module "primary" {
  source    = "./modules/site"
  providers = { aws = aws.primary }

  name                     = "${var.name}-${var.primary_region}"
  role                     = "primary"
  vpc_id                   = var.primary_network.vpc_id
  private_subnet_ids       = var.primary_network.private_subnet_ids
  public_subnet_ids        = var.primary_network.public_subnet_ids
  allowed_cidrs            = var.allowed_cidrs
  kubernetes_version       = var.kubernetes_version
  node_instance_types      = var.node_instance_types
  node_count               = var.node_count
  rest_node_port           = var.rest_node_port
  grpc_node_port           = var.grpc_node_port
  rest_port                = var.rest_port
  grpc_port                = var.grpc_port
  db_instance_class        = var.db_instance_class
  db_engine_version        = var.db_engine_version
  db_allocated_storage_gb  = var.db_allocated_storage_gb
  db_backup_retention_days = var.db_backup_retention_days
  redis_node_type          = var.redis_node_type
  redis_engine_version     = var.redis_engine_version
  redis_auth_token         = var.redis_auth_token
  tags                     = var.tags
}

module "secondary" {
  source    = "./modules/site"
  providers = { aws = aws.secondary }

  name                     = "${var.name}-${var.secondary_region}"
  role                     = "secondary"
  replicate_source_db      = module.primary.postgres_arn
  vpc_id                   = var.secondary_network.vpc_id
  private_subnet_ids       = var.secondary_network.private_subnet_ids
  public_subnet_ids        = var.secondary_network.public_subnet_ids
  allowed_cidrs            = var.allowed_cidrs
  kubernetes_version       = var.kubernetes_version
  node_instance_types      = var.node_instance_types
  node_count               = var.node_count
  rest_node_port           = var.rest_node_port
  grpc_node_port           = var.grpc_node_port
  rest_port                = var.rest_port
  grpc_port                = var.grpc_port
  db_instance_class        = var.db_instance_class
  db_engine_version        = var.db_engine_version
  db_allocated_storage_gb  = var.db_allocated_storage_gb
  db_backup_retention_days = var.db_backup_retention_days
  redis_node_type          = var.redis_node_type
  redis_engine_version     = var.redis_engine_version
  redis_auth_token         = var.redis_auth_token
  tags                     = var.tags
}
