# A tenant account's deploy role: the role opsdeck's plans are applied through. It trusts one
# principal, the runner's task role; operators, approvers and viewers cannot assume it, so an
# approval is the only way a change reaches the account.

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "OnlyTheOpsdeckRunner"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [var.runner_task_role_arn]
    }
    # Named twice: a role recreated under the same name gets a new principal id and is not trusted.
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [var.runner_task_role_arn]
    }
    dynamic "condition" {
      for_each = var.external_id == "" ? [] : [var.external_id]
      content {
        test     = "StringEquals"
        variable = "sts:ExternalId"
        values   = [condition.value]
      }
    }
  }
  # Session names carry the opsdeck user the runner acts for, so CloudTrail names them too.
  statement {
    sid     = "RunnerNamesItsSessions"
    actions = ["sts:TagSession", "sts:SetSourceIdentity"]
    principals {
      type        = "AWS"
      identifiers = [var.runner_task_role_arn]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "opsdeck-deploy-${var.tenant}"
  description          = "opsdeck tenant ${var.tenant}: assumed only by the opsdeck runner to apply approved plans"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_seconds
  tags                 = merge(var.tags, { "opsdeck-tenant" = var.tenant, "opsdeck-component" = "deploy-role" })
}

resource "aws_iam_role_policy_attachment" "deploy" {
  for_each   = toset(var.permission_policy_arns)
  role       = aws_iam_role.deploy.name
  policy_arn = each.value
}
