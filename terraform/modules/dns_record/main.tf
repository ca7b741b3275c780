provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge(var.tags, { "managed-by" = "opsgate" })
  }
}

locals {
  labels    = split(".", var.domain)
  zone_name = coalesce(var.zone_name, join(".", slice(local.labels, length(local.labels) - 2, length(local.labels))))

  # Route 53 wants TXT values quoted; users write them bare.
  record_value = var.record_type == "TXT" ? "\"${var.value}\"" : var.value
}

data "aws_route53_zone" "this" {
  name         = local.zone_name
  private_zone = false
}

resource "aws_route53_record" "this" {
  zone_id         = data.aws_route53_zone.this.zone_id
  name            = var.domain
  type            = var.record_type
  ttl             = var.ttl
  records         = [local.record_value]
  allow_overwrite = false
}
