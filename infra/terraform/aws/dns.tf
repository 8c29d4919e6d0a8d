# One name for REST and gRPC (the NLB serves both ports): Route 53 answers with the primary site's NLB
# while its health check passes and with the secondary's otherwise. The checks call /readyz over HTTPS
# on the REST port from Route 53's checkers on the internet (HTTPS checks do not verify the certificate,
# so the API's private CA is fine). /readyz is 503 only while intake refuses (journal full or failed,
# shutting down) on the replica behind the NLB that answered, and a connection that fails counts too:
# a site whose NLB has no healthy target (every replica down or refusing) fails over. A site with
# PostgreSQL or Redis down stays: its replicas still journal submissions (README "Deploying on
# Kubernetes and AWS" says what a region failover needs from an operator).

resource "aws_route53_health_check" "primary" {
  provider = aws.primary

  fqdn              = module.primary.nlb_dns_name
  port              = var.rest_port
  type              = "HTTPS"
  resource_path     = "/readyz"
  request_interval  = 10
  failure_threshold = 3
  measure_latency   = true
  regions           = var.health_check_regions

  tags = { Name = "${var.name}-${var.primary_region}-readyz" }
}

resource "aws_route53_health_check" "secondary" {
  provider = aws.primary

  fqdn              = module.secondary.nlb_dns_name
  port              = var.rest_port
  type              = "HTTPS"
  resource_path     = "/readyz"
  request_interval  = 10
  failure_threshold = 3
  measure_latency   = true
  regions           = var.health_check_regions

  tags = { Name = "${var.name}-${var.secondary_region}-readyz" }
}

resource "aws_route53_record" "api_primary" {
  provider = aws.primary

  zone_id         = var.route53_zone_id
  name            = var.api_domain_name
  type            = "A"
  set_identifier  = "${var.name}-${var.primary_region}"
  health_check_id = aws_route53_health_check.primary.id

  failover_routing_policy {
    type = "PRIMARY"
  }

  alias {
    name                   = module.primary.nlb_dns_name
    zone_id                = module.primary.nlb_zone_id
    evaluate_target_health = true
  }
}

resource "aws_route53_record" "api_secondary" {
  provider = aws.primary

  zone_id         = var.route53_zone_id
  name            = var.api_domain_name
  type            = "A"
  set_identifier  = "${var.name}-${var.secondary_region}"
  health_check_id = aws_route53_health_check.secondary.id

  failover_routing_policy {
    type = "SECONDARY"
  }

  alias {
    name                   = module.secondary.nlb_dns_name
    zone_id                = module.secondary.nlb_zone_id
    evaluate_target_health = true
  }
}
