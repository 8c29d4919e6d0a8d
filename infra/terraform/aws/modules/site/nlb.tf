# The site's entry point: an internet-facing NLB with two TCP listeners, REST (JR_HTTP_PORT) and gRPC
# (JR_GRPC_PORT), forwarding to the jr-api Services' node ports on every node (instance targets).
#
# TCP, not TLS, listeners: jr-api terminates TLS itself on both ports, and on gRPC it verifies each
# agent's client certificate (mutual TLS), which a TLS listener would end at the NLB. TCP also passes
# HTTP/2 through untouched, which gRPC needs end to end. The client's address is preserved (instance
# targets), so jr-api's per-address rate limits and lockouts see the real client.
# Idle timeout: the NLB's default 350 s is never reached: an agent heartbeats every 10 s on its one
# connection, and jr-api ends each connection after JR_GRPC_MAX_CONNECTION_AGE (5 m) anyway.

resource "aws_security_group" "nlb" {
  name        = "${var.name}-nlb"
  description = "jobrunner NLB: REST and gRPC from the allowed addresses"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "nlb" {
  for_each = { for pair in setproduct(var.allowed_cidrs, [var.rest_port, var.grpc_port]) : "${pair[0]}-${pair[1]}" => pair }

  security_group_id = aws_security_group.nlb.id
  cidr_ipv4         = each.value[0]
  ip_protocol       = "tcp"
  from_port         = each.value[1]
  to_port           = each.value[1]
  description       = "jobrunner clients and Route 53 health checkers"
}

resource "aws_vpc_security_group_egress_rule" "nlb_to_nodes" {
  for_each = toset([tostring(var.rest_node_port), tostring(var.grpc_node_port)])

  security_group_id            = aws_security_group.nlb.id
  referenced_security_group_id = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  description                  = "to the jr-api node ports"
}

resource "aws_vpc_security_group_ingress_rule" "nodes_from_nlb" {
  for_each = toset([tostring(var.rest_node_port), tostring(var.grpc_node_port)])

  security_group_id            = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
  referenced_security_group_id = aws_security_group.nlb.id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
  description                  = "jr-api node ports from the NLB"
}

resource "aws_lb" "this" {
  name                             = "${var.name}-nlb"
  load_balancer_type               = "network"
  internal                         = false
  subnets                          = var.public_subnet_ids
  security_groups                  = [aws_security_group.nlb.id]
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = true
  tags                             = local.tags
}

# Both target groups are health-checked on the REST node port's /readyz over HTTPS: it is 503 only
# while a replica's intake refuses (journal full, shutting down), and with externalTrafficPolicy Local a
# node without a ready jr-api pod fails it. The gRPC port itself cannot answer an HTTP health check.
resource "aws_lb_target_group" "rest" {
  name                 = "${var.name}-rest"
  port                 = var.rest_node_port
  protocol             = "TCP"
  target_type          = "instance"
  vpc_id               = var.vpc_id
  deregistration_delay = 30
  preserve_client_ip   = "true"

  health_check {
    protocol            = "HTTPS"
    port                = tostring(var.rest_node_port)
    path                = "/readyz"
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = local.tags
}

resource "aws_lb_target_group" "grpc" {
  name                 = "${var.name}-grpc"
  port                 = var.grpc_node_port
  protocol             = "TCP"
  target_type          = "instance"
  vpc_id               = var.vpc_id
  deregistration_delay = 30
  preserve_client_ip   = "true"

  health_check {
    protocol            = "HTTPS"
    port                = tostring(var.rest_node_port)
    path                = "/readyz"
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = local.tags
}

resource "aws_lb_listener" "rest" {
  load_balancer_arn = aws_lb.this.arn
  port              = var.rest_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.rest.arn
  }

  tags = local.tags
}

resource "aws_lb_listener" "grpc" {
  load_balancer_arn = aws_lb.this.arn
  port              = var.grpc_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.grpc.arn
  }

  tags = local.tags
}

# A managed node group is one Auto Scaling group: its nodes join both target groups as they come.
resource "aws_autoscaling_attachment" "rest" {
  autoscaling_group_name = aws_eks_node_group.this.resources[0].autoscaling_groups[0].name
  lb_target_group_arn    = aws_lb_target_group.rest.arn
}

resource "aws_autoscaling_attachment" "grpc" {
  autoscaling_group_name = aws_eks_node_group.this.resources[0].autoscaling_groups[0].name
  lb_target_group_arn    = aws_lb_target_group.grpc.arn
}
