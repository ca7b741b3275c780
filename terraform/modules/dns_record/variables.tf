# Inputs mirror the catalog entry provision.create.dns_record (policies/actions.yaml).

variable "domain" {
  description = "Fully qualified name of the record, e.g. api.acme.org."
  type        = string

  validation {
    condition     = length(var.domain) <= 253 && can(regex("^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain))
    error_message = "The domain must be a lower-case DNS name of at most 253 characters, e.g. api.acme.org."
  }
}

variable "record_type" {
  description = "Record type: A, AAAA, CNAME, TXT or MX."
  type        = string

  validation {
    condition     = contains(["A", "AAAA", "CNAME", "TXT", "MX"], var.record_type)
    error_message = "The record_type must be one of A, AAAA, CNAME, TXT, MX."
  }
}

variable "value" {
  description = "Record value: an address, a host name, TXT text, or \"PRIORITY HOST\" for MX."
  type        = string

  validation {
    condition     = length(var.value) >= 1 && length(var.value) <= 255
    error_message = "The value must be 1 to 255 characters long."
  }
}

variable "ttl" {
  description = "Time to live in seconds."
  type        = number
  default     = 300

  validation {
    condition     = var.ttl >= 60 && var.ttl <= 86400 && floor(var.ttl) == var.ttl
    error_message = "The ttl must be a whole number of seconds from 60 to 86400."
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

variable "zone_name" {
  description = "Hosted zone holding the record; defaults to the domain's last two labels (api.acme.org -> acme.org)."
  type        = string
  default     = null
}

variable "aws_region" {
  description = "Region of the AWS API calls (Route 53 is global)."
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Required tags (owner, project, environment, cost_center), filled by OpsGate from the request."
  type        = map(string)
  default     = {}
}
