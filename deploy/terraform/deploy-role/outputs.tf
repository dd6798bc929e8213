output "role_arn" {
  description = "The deploy role: name it as the tenant configuration's role_arn (`opsdeck configs add`)."
  value       = aws_iam_role.deploy.arn
}
