locals {
  tags = merge(var.tags, { "app.kubernetes.io/part-of" = "jobrunner", "jobrunner/site" = var.name })
}

# One key per site encrypts PostgreSQL, Redis and the EKS secrets at rest (a cross-region replica
# needs a key in its own region).
resource "aws_kms_key" "data" {
  description             = "${var.name}: PostgreSQL, Redis and EKS secrets at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = local.tags
}

resource "aws_kms_alias" "data" {
  name          = "alias/${var.name}-data"
  target_key_id = aws_kms_key.data.key_id
}
