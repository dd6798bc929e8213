#!/bin/sh
# The runner container's entry: writes opsdeck's config for the shared backend from the task's
# environment (deploy/terraform/runner sets it), then starts `opsdeck runner`. Values are checked
# here because they go into a TOML file: only the characters a region or prefix can hold.
set -eu

: "${OPSDECK_HOME:?OPSDECK_HOME must be set}"
region="${OPSDECK_AWS_BACKEND_REGION:?OPSDECK_AWS_BACKEND_REGION must name the shared backend region}"
prefix="${OPSDECK_AWS_BACKEND_PREFIX:-opsdeck}"
bucket_prefix="${OPSDECK_AWS_BACKEND_BUCKET_PREFIX:-}"

check() {
  # $1 setting, $2 value, $3 allowed characters (a shell pattern class)
  case "$2" in
    *[!$3]*)
      echo "opsdeck-runner: $1='$2' holds characters outside [$3]" >&2
      exit 64
      ;;
  esac
}
check OPSDECK_AWS_BACKEND_REGION "$region" "a-z0-9-"
check OPSDECK_AWS_BACKEND_PREFIX "$prefix" "a-z0-9-"
check OPSDECK_AWS_BACKEND_BUCKET_PREFIX "$bucket_prefix" "a-z0-9-"

umask 077
mkdir -p "$OPSDECK_HOME"
cat >"$OPSDECK_HOME/config.toml" <<TOML
[aws_backend]
region = "$region"
prefix = "$prefix"
bucket_prefix = "$bucket_prefix"
TOML

# The runner user's personal key (an OpenSSH Ed25519 key, unencrypted: Secrets Manager guards
# it), given by ECS from the secret the module names. With it the runner vouches for this task's
# audit-signing key, so every member trusts what it records. It is written owner-only and taken
# out of the environment, so Terraform, Ansible and their logs never see it.
user="${OPSDECK_USER:-runner}"
check OPSDECK_USER "$user" "a-z0-9_-"
if [ -n "${OPSDECK_RUNNER_KEY:-}" ]; then
  keys="${OPSDECK_IDENTITY_DIR:-$OPSDECK_HOME/identity}/keys"
  mkdir -p "$keys"
  printf '%s\n' "$OPSDECK_RUNNER_KEY" >"$keys/$user.key.new"
  mv "$keys/$user.key.new" "$keys/$user.key"
fi
unset OPSDECK_RUNNER_KEY

tenants="${OPSDECK_RUNNER_TENANTS:-}"
check OPSDECK_RUNNER_TENANTS "$tenants" "a-z0-9_,-"
if [ -n "$tenants" ]; then
  exec opsdeck --backend aws --user "$user" runner --tenants "$tenants" "$@"
fi
exec opsdeck --backend aws --user "$user" runner "$@"
