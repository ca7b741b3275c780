output "fqdn" {
  description = "The record's fully qualified name."
  value       = aws_route53_record.this.fqdn
}

output "zone_id" {
  description = "The hosted zone holding the record."
  value       = data.aws_route53_zone.this.zone_id
}

output "record" {
  description = "The record as created: type, value and TTL."
  value       = "${var.record_type} ${local.record_value} (ttl ${var.ttl})"
}
