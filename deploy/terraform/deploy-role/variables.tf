variable "tenant" {
  description = "The opsdeck tenant this account's deploy role serves."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", var.tenant))
    error_message = "tenant: an opsdeck tenant name (lower-case letters, digits, '-' and '_')."
  }
}

variable "runner_task_role_arn" {
  description = "The runner's task role (output task_role_arn of ../runner): the only principal this role trusts."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$", var.runner_task_role_arn))
    error_message = "runner_task_role_arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME); no wildcard."
  }
}

variable "external_id" {
  description = "Required by the trust policy when the runner's account is not this one (the tenant configuration's external_id)."
  type        = string
  default     = ""
  sensitive   = true
  validation {
    condition     = var.external_id == "" || can(regex("^[A-Za-z0-9+=,.@:/_-]{2,1224}$", var.external_id))
    error_message = "external_id: 2-1224 characters of letters, digits and +=,.@:/-_ (or empty)."
  }
}

variable "permission_policy_arns" {
  description = "Managed policies granting what this tenant's plans may change (the team's own choice; AdministratorAccess is refused)."
  type        = list(string)
  validation {
    condition = length(var.permission_policy_arns) > 0 && alltrue([
      for p in var.permission_policy_arns :
      can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/[A-Za-z0-9+=,.@_/-]+$", p)) && !endswith(p, "/AdministratorAccess")
    ])
    error_message = "permission_policy_arns: at least one IAM policy ARN, and not AdministratorAccess (grant what the tenant's plans change)."
  }
}

variable "max_session_seconds" {
  description = "Longest session the runner may hold (an apply longer than this re-assumes the role)."
  type        = number
  default     = 3600
  validation {
    condition     = var.max_session_seconds >= 900 && var.max_session_seconds <= 43200
    error_message = "max_session_seconds must be between 900 and 43200."
  }
}

variable "tags" {
  description = "Tags on the role."
  type        = map(string)
  default     = {}
}
