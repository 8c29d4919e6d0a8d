variable "name" {
  description = "Name prefix of the deployment; each site is named <name>-<region>."
  type        = string
  default     = "jobrunner"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.name))
    error_message = "name must be 2-12 lower-case letters, digits and dashes, starting with a letter (site names add the region, and AWS allows 32 characters for <site>-rest)."
  }
}

variable "primary_region" {
  description = "AWS region of the primary site (writable PostgreSQL, the PRIMARY failover record)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.primary_region))
    error_message = "primary_region must be an AWS region name such as eu-west-1."
  }
}

variable "secondary_region" {
  description = "AWS region of the secondary site (PostgreSQL read replica, the SECONDARY failover record)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.secondary_region))
    error_message = "secondary_region must be an AWS region name such as eu-central-1."
  }
}

variable "primary_network" {
  description = "The primary region's VPC and subnets (private: nodes, PostgreSQL, Redis; public: the NLB), one subnet per zone."
  type = object({
    vpc_id             = string
    private_subnet_ids = list(string)
    public_subnet_ids  = list(string)
  })
}

variable "secondary_network" {
  description = "The secondary region's VPC and subnets, as primary_network."
  type = object({
    vpc_id             = string
    private_subnet_ids = list(string)
    public_subnet_ids  = list(string)
  })
}

variable "route53_zone_id" {
  description = "The public hosted zone holding api_domain_name."
  type        = string
}

variable "api_domain_name" {
  description = "The name agents (JR_API_GRPC=<name>:50051) and the CLI (JR_API_URL=https://<name>:8080) use; the server certificate must carry it."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.api_domain_name))
    error_message = "api_domain_name must be a lower-case DNS name such as jobrunner.example.com."
  }
}

variable "health_check_regions" {
  description = "Route 53 health checker regions (at least three)."
  type        = list(string)
  default     = ["us-east-1", "eu-west-1", "ap-southeast-1"]

  validation {
    condition     = length(var.health_check_regions) >= 3
    error_message = "Route 53 needs at least three health checker regions."
  }
}

variable "allowed_cidrs" {
  description = "Addresses allowed to reach the NLBs on the REST and gRPC ports; must include Route 53's health checkers (ip-ranges.json, service ROUTE53_HEALTHCHECKS) or the checks fail."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version of both clusters."
  type        = string
  default     = "1.34"
}

variable "node_instance_types" {
  description = "Instance types of the EKS node groups."
  type        = list(string)
  default     = ["m7i.large"]
}

variable "node_count" {
  description = "Nodes per cluster (at least 3: one jr-api replica per node and zone)."
  type        = number
  default     = 3
}

variable "rest_port" {
  description = "REST port on the NLBs and in the health checks: JR_HTTP_PORT."
  type        = number
  default     = 8080
}

variable "grpc_port" {
  description = "gRPC port on the NLBs: JR_GRPC_PORT."
  type        = number
  default     = 50051
}

variable "rest_node_port" {
  description = "nodePort of jr-api-rest in infra/kubernetes/overlays/aws (kept equal by a test)."
  type        = number
  default     = 30080
}

variable "grpc_node_port" {
  description = "nodePort of jr-api-grpc in infra/kubernetes/overlays/aws (kept equal by a test)."
  type        = number
  default     = 30051
}

variable "db_instance_class" {
  description = "RDS instance class of PostgreSQL in both regions."
  type        = string
  default     = "db.m7g.large"
}

variable "db_engine_version" {
  description = "RDS PostgreSQL major version."
  type        = string
  default     = "17"
}

variable "db_allocated_storage_gb" {
  description = "PostgreSQL storage in GiB."
  type        = number
  default     = 100
}

variable "db_backup_retention_days" {
  description = "Days of PostgreSQL automated backups (point-in-time recovery)."
  type        = number
  default     = 14
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.m7g.large"
}

variable "redis_engine_version" {
  description = "ElastiCache Redis OSS version."
  type        = string
  default     = "7.1"
}

variable "redis_auth_token" {
  description = "Redis AUTH token of both sites (16-128 characters). No default: pass it as TF_VAR_redis_auth_token from a secret store."
  type        = string
  sensitive   = true
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = { "app.kubernetes.io/part-of" = "jobrunner" }
}
