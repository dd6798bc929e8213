//! Terraform modules for library tests: they plan offline (terraform_data, no provider to
//! install), version 2 with a typed parameter.

/// Version 1: no parameter.
pub const MODULE_V1: &str = r#"resource "terraform_data" "hello" {
  input = "hello"
}
"#;

/// Version 2: the greeting as a parameter with a default.
pub const MODULE_V2: &str = r#"variable "greeting" {
  type    = string
  default = "hello"
}

resource "terraform_data" "hello" {
  input = var.greeting
}
"#;
