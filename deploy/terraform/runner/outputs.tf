output "task_role_arn" {
  description = "The runner's task role: the one principal each tenant deploy role trusts (pass it to ../deploy-role)."
  value       = aws_iam_role.task.arn
}

output "cluster_arn" {
  description = "The ECS cluster the runner service runs in."
  value       = aws_ecs_cluster.runner.arn
}

output "service_name" {
  description = "The runner's ECS service."
  value       = aws_ecs_service.runner.name
}

output "log_group" {
  description = "Where the runner's logs go (encrypted with a key of their own)."
  value       = aws_cloudwatch_log_group.runner.name
}
