variable "name" {
  description = "Name of the runner service; prefixes every resource this module creates."
  type        = string
  default     = "opsdeck-runner"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,31}$", var.name))
    error_message = "name: 3-32 lower-case letters, digits and '-', starting with a letter."
  }
}

variable "image" {
  description = "The runner image built from deploy/Dockerfile, in ECR and pinned by digest (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:...), so what runs is exactly what was reviewed."
  type        = string
  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$", var.image))
    error_message = "image must be an ECR image pinned by digest: ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:<64 hex digits>."
  }
}

variable "tenants" {
  description = "Tenants this runner serves (opsdeck tenant names); each gets the runner's queue claims and its deploy role."
  type        = list(string)
  validation {
    condition     = length(var.tenants) > 0 && alltrue([for t in var.tenants : can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", t))])
    error_message = "tenants: at least one opsdeck tenant name (lower-case letters, digits, '-' and '_')."
  }
}

variable "runner_policy_json" {
  description = "The runner's permissions: the output of `opsdeck iam policy runner` for this backend and these deploy roles."
  type        = string
  validation {
    condition     = can(jsondecode(var.runner_policy_json).Statement)
    error_message = "runner_policy_json must be an IAM policy document (print it with `opsdeck iam policy runner`)."
  }
}

variable "runner_user" {
  description = "The registered opsdeck user the runner acts as in each tenant (an operator, approver or admin there). Map the task role to it: `opsdeck users principal USER --aws-principal <task_role_arn output>`."
  type        = string
  default     = "runner"
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", var.runner_user))
    error_message = "runner_user: an opsdeck user name (lower-case letters, digits, '-' and '_')."
  }
}

variable "runner_key_secret_arn" {
  description = "Secrets Manager secret holding the runner user's personal key (the OpenSSH Ed25519 private key `opsdeck --user runner keys new` writes, unencrypted), registered for that user in each tenant. ECS hands it to the container, which writes it owner-only and drops it from the environment."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$", var.runner_key_secret_arn))
    error_message = "runner_key_secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-xxxxxx)."
  }
}

variable "backend_region" {
  description = "Region of the shared backend (aws_backend.region in opsdeck's config)."
  type        = string
  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.backend_region))
    error_message = "backend_region must be an AWS region such as eu-west-1."
  }
}

variable "backend_prefix" {
  description = "Prefix of the shared backend's tables and buckets (aws_backend.prefix)."
  type        = string
  default     = "opsdeck"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.backend_prefix))
    error_message = "backend_prefix: 3-32 lower-case letters, digits and '-', as opsdeck's aws_backend.prefix."
  }
}

variable "backend_bucket_prefix" {
  description = "Prefix of the shared backend's buckets (aws_backend.bucket_prefix; empty: backend_prefix)."
  type        = string
  default     = ""
  validation {
    condition     = var.backend_bucket_prefix == "" || can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.backend_bucket_prefix))
    error_message = "backend_bucket_prefix: empty, or 3-32 lower-case letters, digits and '-'."
  }
}

variable "vpc_id" {
  description = "VPC the runner's tasks run in."
  type        = string
  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the tasks (no public address is assigned: reach AWS APIs through NAT or VPC endpoints)."
  type        = list(string)
  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "subnet_ids: at least one subnet id (subnet-...)."
  }
}

variable "desired_count" {
  description = "Runners to keep running; several share the queue safely (one claim per plan)."
  type        = number
  default     = 2
  validation {
    condition     = var.desired_count >= 1 && var.desired_count <= 20 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number from 1 to 20."
  }
}

variable "cpu" {
  description = "Fargate CPU units per task (Terraform and Ansible run inside it)."
  type        = number
  default     = 1024
  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.cpu)
    error_message = "cpu must be one of 256, 512, 1024, 2048, 4096."
  }
}

variable "memory" {
  description = "Fargate memory per task, MiB (must suit cpu; see the Fargate task size table)."
  type        = number
  default     = 2048
  validation {
    condition     = var.memory >= 512 && var.memory <= 30720 && var.memory % 512 == 0
    error_message = "memory must be a multiple of 512 MiB from 512 to 30720."
  }
}

variable "log_retention_days" {
  description = "Days the runner's logs are kept (CloudWatch Logs allowed values; at least a year, as evidence of what ran)."
  type        = number
  default     = 365
  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention of at least 365 days (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
