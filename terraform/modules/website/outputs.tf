output "url" {
  description = "Where the site is served."
  value       = "https://${var.domain}/"
}

output "bucket" {
  description = "The S3 bucket to upload the site's content to."
  value       = aws_s3_bucket.content.bucket
}

output "distribution_domain" {
  description = "The CloudFront distribution's own domain name."
  value       = aws_cloudfront_distribution.site.domain_name
}

output "certificate_arn" {
  description = "The ACM certificate serving the domain."
  value       = aws_acm_certificate_validation.site.certificate_arn
}
