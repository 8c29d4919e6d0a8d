variable "name" {
  description = "Name prefix of every resource of this site, e.g. jobrunner-euw1."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,26}$", var.name))
    error_message = "name must be 2-27 lower-case letters, digits and dashes, starting with a letter (load balancer and target group names, <name>-rest, have at most 32 characters)."
  }
}

variable "role" {
  description = "primary: the site holding the writable PostgreSQL; secondary: a cross-region read replica of it, promoted by an operator on a region failover."
  type        = string

  validation {
    condition     = contains(["primary", "secondary"], var.role)
    error_message = "role must be primary or secondary."
  }
}

variable "vpc_id" {
  description = "The VPC the site runs in."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets, one per availability zone (at least two, three for one jr-api replica per zone): EKS nodes, PostgreSQL, Redis."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "private_subnet_ids needs at least two subnets in different availability zones (Multi-AZ)."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets for the internet-facing NLB (Route 53 health checkers and agents reach it from outside)."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids needs at least two subnets in different availability zones."
  }
}

variable "allowed_cidrs" {
  description = "Addresses allowed to reach the NLB on the REST and gRPC ports (agents, CLI users, Route 53 health checkers)."
  type        = list(string)

  validation {
    condition     = alltrue([for c in var.allowed_cidrs : can(cidrnetmask(c))])
    error_message = "allowed_cidrs must be IPv4 CIDR blocks."
  }
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version (the manifests need 1.30 or later: the preStop sleep action)."
  type        = string

  validation {
    condition     = can(regex("^1\\.(3[0-9]|[4-9][0-9])$", var.kubernetes_version))
    error_message = "kubernetes_version must be 1.30 or later, e.g. 1.34."
  }
}

variable "node_instance_types" {
  description = "Instance types of the EKS managed node group."
  type        = list(string)
}

variable "node_count" {
  description = "Nodes in the node group: at least 3, so the three jr-api replicas sit on three nodes in three zones."
  type        = number

  validation {
    condition     = var.node_count >= 3 && var.node_count <= 100
    error_message = "node_count must be 3-100."
  }
}

variable "rest_node_port" {
  description = "Node port of the jr-api-rest Service (infra/kubernetes/overlays/aws): the NLB's REST listener forwards to it."
  type        = number

  validation {
    condition     = var.rest_node_port >= 30000 && var.rest_node_port <= 32767
    error_message = "rest_node_port must be in the Kubernetes node port range 30000-32767."
  }
}

variable "grpc_node_port" {
  description = "Node port of the jr-api-grpc Service (infra/kubernetes/overlays/aws): the NLB's gRPC listener forwards to it."
  type        = number

  validation {
    condition     = var.grpc_node_port >= 30000 && var.grpc_node_port <= 32767
    error_message = "grpc_node_port must be in the Kubernetes node port range 30000-32767."
  }
}

variable "rest_port" {
  description = "The NLB's REST port: JR_HTTP_PORT of jr-api."
  type        = number
}

variable "grpc_port" {
  description = "The NLB's gRPC port: JR_GRPC_PORT of jr-api, the agents' JR_API_GRPC."
  type        = number
}

variable "db_instance_class" {
  description = "RDS instance class of PostgreSQL (the primary and its cross-region replica)."
  type        = string
}

variable "db_engine_version" {
  description = "RDS PostgreSQL major version."
  type        = string

  validation {
    condition     = can(regex("^1[4-9]$", var.db_engine_version))
    error_message = "db_engine_version must be a PostgreSQL major version 14-19."
  }
}

variable "db_allocated_storage_gb" {
  description = "PostgreSQL storage in GiB (grows up to four times this on its own)."
  type        = number

  validation {
    condition     = var.db_allocated_storage_gb >= 20
    error_message = "db_allocated_storage_gb must be at least 20."
  }
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery) of PostgreSQL."
  type        = number

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be 7-35."
  }
}

variable "replicate_source_db" {
  description = "role = secondary: the ARN of the primary site's PostgreSQL instance, replicated across regions. null for the primary."
  type        = string
  default     = null
}

variable "redis_node_type" {
  description = "ElastiCache node type of Redis."
  type        = string
}

variable "redis_engine_version" {
  description = "ElastiCache Redis OSS engine version."
  type        = string
}

variable "redis_auth_token" {
  description = "The Redis AUTH token (goes into REDIS_URL as rediss://:TOKEN@host:6379). Pass it from a secret store (TF_VAR_redis_auth_token), never from a file in git."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.redis_auth_token) >= 16 && length(var.redis_auth_token) <= 128
    error_message = "redis_auth_token must be 16-128 characters (an ElastiCache rule)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
