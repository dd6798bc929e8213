# The opsdeck runner as an ECS Fargate service. Its task role is the one principal the tenants'
# deploy roles trust (../deploy-role): people request and approve, only the runner applies.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  log_group = "/opsdeck/${var.name}"
  tags      = merge(var.tags, { "opsdeck-component" = "runner" })
  # ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:DIGEST
  image_parts    = regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com/([^@]+)@", var.image)
  repository_arn = "arn:${local.partition}:ecr:${local.image_parts[1]}:${local.image_parts[0]}:repository/${local.image_parts[2]}"
}

# Logs are encrypted with a key of their own that only this account's CloudWatch Logs may use
# for this log group.
data "aws_iam_policy_document" "logs_key" {
  #checkov:skip=CKV_AWS_109:In a key policy "*" is the key itself
  #checkov:skip=CKV_AWS_111:In a key policy "*" is the key itself
  #checkov:skip=CKV_AWS_356:In a key policy "*" is the key itself
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogsEncryptsThisLogGroup"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${local.log_group}"]
    }
  }
}

resource "aws_kms_key" "logs" {
  description             = "${var.name}: runner logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.logs_key.json
  tags                    = local.tags
}

resource "aws_cloudwatch_log_group" "runner" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
  tags              = local.tags
}

resource "aws_ecs_cluster" "runner" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = local.tags
}

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    # Only tasks of this account's ECS (no confused deputy).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account}:*"]
    }
  }
}

# The task role: what the runner itself may do (the shared backend, and assuming the tenants'
# deploy roles), exactly as `opsdeck iam policy runner` prints it.
resource "aws_iam_role" "task" {
  name                 = "${var.name}-task"
  description          = "opsdeck runner: the only principal the tenants' deploy roles trust"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_trust.json
  max_session_duration = 3600
  tags                 = local.tags
}

resource "aws_iam_role_policy" "task" {
  name   = "opsdeck-runner"
  role   = aws_iam_role.task.id
  policy = var.runner_policy_json
}

# The execution role: only what ECS needs to start the container (pull the image, write logs);
# a different role from the task's, so the agent's rights never reach the runner.
resource "aws_iam_role" "execution" {
  name                 = "${var.name}-execution"
  description          = "opsdeck runner: ECS pulls the image and writes its logs"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_trust.json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PullTheRunnerImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [local.repository_arn]
  }
  statement {
    sid       = "LogInToTheRegistry"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # ecr:GetAuthorizationToken has no resource type
  }
  statement {
    sid       = "ReadTheRunnersKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.runner_key_secret_arn]
  }
  statement {
    sid       = "WriteTheRunnerLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.runner.arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "opsdeck-runner-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_security_group" "runner" {
  name        = var.name
  description = "opsdeck runner: no inbound; outbound HTTPS to AWS APIs and the Terraform registry mirror"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.runner.id
  description       = "HTTPS to AWS APIs (through NAT or VPC endpoints)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_ecs_task_definition" "runner" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  # Plans run in the task's scratch space, never on a shared volume.
  ephemeral_storage {
    size_in_gib = 30
  }
  container_definitions = jsonencode([
    {
      name                   = "runner"
      image                  = var.image
      essential              = true
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      privileged             = false
      # deploy/entrypoint.sh writes the backend's config from these and starts `opsdeck runner`.
      environment = [
        { name = "OPSDECK_BACKEND", value = "aws" },
        { name = "OPSDECK_RUNNER_TENANTS", value = join(",", var.tenants) },
        { name = "OPSDECK_AWS_BACKEND_REGION", value = var.backend_region },
        { name = "OPSDECK_AWS_BACKEND_PREFIX", value = var.backend_prefix },
        { name = "OPSDECK_AWS_BACKEND_BUCKET_PREFIX", value = var.backend_bucket_prefix },
        { name = "OPSDECK_USER", value = var.runner_user },
      ]
      # The runner user's personal key: the entrypoint writes it owner-only and unsets it.
      secrets = [
        { name = "OPSDECK_RUNNER_KEY", valueFrom = var.runner_key_secret_arn },
      ]
      # The only writable paths: opsdeck's home and the tools' scratch space.
      mountPoints = [
        { sourceVolume = "work", containerPath = "/work", readOnly = false },
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]
      linuxParameters = {
        initProcessEnabled = true
        capabilities       = { drop = ["ALL"] }
      }
      stopTimeout = 120
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.runner.name
          "awslogs-region"        = local.region
          "awslogs-stream-prefix" = "runner"
        }
      }
    }
  ])
  volume {
    name = "work"
  }
  volume {
    name = "tmp"
  }
  tags = local.tags
}

resource "aws_ecs_service" "runner" {
  name                               = var.name
  cluster                            = aws_ecs_cluster.runner.id
  task_definition                    = aws_ecs_task_definition.runner.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  deployment_minimum_healthy_percent = 50
  deployment_maximum_percent         = 200
  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.runner.id]
    assign_public_ip = false
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  tags = local.tags
}
