# Inputs mirror the catalog entries provision.create.cluster and provision.delete.cluster
# (policies/actions.yaml); deleting is `tofu destroy` with the same inputs.

variable "name" {
  description = "Cluster name, a DNS label."
  type        = string

  validation {
    condition     = length(var.name) <= 63 && can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.name))
    error_message = "The name must be a DNS label: lower-case letters, digits and '-', at most 63 characters."
  }
}

variable "environment" {
  description = "dev, staging or production; selects the VPC platform-<environment>."
  type        = string
  default     = "dev"

  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "The environment must be one of dev, staging, production."
  }
}

variable "region" {
  description = "Region of the cluster (data residency allows us-east-1 and eu-west-1)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "node_count" {
  description = "Nodes in the default node group; it may grow to twice this."
  type        = number
  default     = 3

  validation {
    condition     = var.node_count >= 1 && var.node_count <= 100 && floor(var.node_count) == var.node_count
    error_message = "The node_count must be a whole number from 1 to 100."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the nodes, e.g. m5.large."
  type        = string
  default     = "m5.large"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "The instance_type must look like m5.large."
  }
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.31"
}

variable "tags" {
  description = "Required tags (owner, project, environment, cost_center), filled by OpsGate from the request."
  type        = map(string)
  default     = {}
}
