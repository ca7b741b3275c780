# Inputs mirror the catalog entries provision.create.website and provision.delete.website
# (policies/actions.yaml); deleting is `tofu destroy` with the same inputs.

variable "domain" {
  description = "Host name the site is served at, e.g. promo.acme.org."
  type        = string

  validation {
    condition     = length(var.domain) <= 253 && can(regex("^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain))
    error_message = "The domain must be a lower-case DNS name of at most 253 characters, e.g. promo.acme.org."
  }
}

variable "tls" {
  description = "Serve over HTTPS only. Required by policy tls-required-for-websites; false is refused, never ignored."
  type        = bool
  default     = true

  validation {
    condition     = var.tls
    error_message = "TLS cannot be disabled for a website (policy tls-required-for-websites); remove tls = false."
  }
}

variable "environment" {
  description = "dev, staging or production."
  type        = string
  default     = null

  validation {
    condition     = var.environment == null || contains(["dev", "staging", "production"], coalesce(var.environment, "dev"))
    error_message = "The environment must be one of dev, staging, production."
  }
}

variable "region" {
  description = "Region of the content bucket (data residency allows us-east-1 and eu-west-1)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "zone_name" {
  description = "Hosted zone for the site's record; defaults to the domain's last two labels (promo.acme.org -> acme.org)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Required tags (owner, project, environment, cost_center), filled by OpsGate from the request."
  type        = map(string)
  default     = {}
}
