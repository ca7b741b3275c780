terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
  }

  # State lives in the platform's S3 bucket; `opsgate execute` passes bucket, key and region
  # with -backend-config, one key per website.
  backend "s3" {}
}
