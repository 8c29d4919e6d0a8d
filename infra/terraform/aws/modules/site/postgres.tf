# PostgreSQL, the system of record. Primary site: a Multi-AZ instance (a synchronous standby in another
# zone; RDS fails over to it and keeps the endpoint name, and jr-api reconnects and waits out the
# minute in its journals). Secondary site: a cross-region read replica of it (asynchronous), itself
# Multi-AZ, which an operator promotes on a region failover (aws rds promote-read-replica). jr-api lists
# both endpoints in DATABASE_URL and uses whichever takes writes (README "When PostgreSQL fails over").

resource "aws_db_subnet_group" "this" {
  name       = "${var.name}-postgres"
  subnet_ids = var.private_subnet_ids
  tags       = local.tags
}

resource "aws_security_group" "postgres" {
  name        = "${var.name}-postgres"
  description = "PostgreSQL: reachable from the EKS cluster only"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "postgres_from_cluster" {
  security_group_id            = aws_security_group.postgres.id
  referenced_security_group_id = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  description                  = "jr-api pods"
}

resource "aws_db_parameter_group" "this" {
  name   = "${var.name}-postgres${var.db_engine_version}"
  family = "postgres${var.db_engine_version}"
  tags   = local.tags

  # TLS only (the default from PostgreSQL 15 on, spelled out): DATABASE_URL needs ?sslmode=verify-full
  # and the RDS CA bundle trusted by Node (see infra/terraform/README.md)
  parameter {
    name         = "rds.force_ssl"
    value        = "1"
    apply_method = "pending-reboot"
  }
}

resource "aws_db_instance" "primary" {
  count = var.role == "primary" ? 1 : 0

  identifier     = "${var.name}-postgres"
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class
  db_name        = "jobrunner"
  username       = "jr"
  # the password lives in Secrets Manager, made and rotated by RDS: never in Terraform state or git
  manage_master_user_password = true

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_allocated_storage_gb * 4
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.data.arn

  multi_az                = true
  db_subnet_group_name    = aws_db_subnet_group.this.name
  vpc_security_group_ids  = [aws_security_group.postgres.id]
  parameter_group_name    = aws_db_parameter_group.this.name
  backup_retention_period = var.db_backup_retention_days
  backup_window           = "03:00-04:00"
  maintenance_window      = "sun:04:30-sun:05:30"
  copy_tags_to_snapshot   = true

  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-postgres-final"

  performance_insights_enabled    = true
  performance_insights_kms_key_id = aws_kms_key.data.arn
  auto_minor_version_upgrade      = true
  tags                            = local.tags
}

resource "aws_db_instance" "replica" {
  count = var.role == "secondary" ? 1 : 0

  identifier          = "${var.name}-postgres"
  replicate_source_db = var.replicate_source_db
  instance_class      = var.db_instance_class

  storage_encrypted = true
  kms_key_id        = aws_kms_key.data.arn

  # after a promotion this is the primary: it must already be Multi-AZ and backed up
  multi_az                = true
  db_subnet_group_name    = aws_db_subnet_group.this.name
  vpc_security_group_ids  = [aws_security_group.postgres.id]
  parameter_group_name    = aws_db_parameter_group.this.name
  backup_retention_period = var.db_backup_retention_days

  deletion_protection = true
  # RDS takes no final snapshot of a read replica (its data is the primary's); promoted, it has backups
  skip_final_snapshot        = true
  auto_minor_version_upgrade = true
  tags                       = local.tags

  lifecycle {
    precondition {
      condition     = var.replicate_source_db != null
      error_message = "role = secondary needs replicate_source_db, the ARN of the primary site's PostgreSQL instance."
    }
  }
}

locals {
  postgres = var.role == "primary" ? aws_db_instance.primary[0] : aws_db_instance.replica[0]
}
