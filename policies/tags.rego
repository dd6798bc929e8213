# Tag gate.
#
#   tags.required (deny)  a created, taggable resource lacks one of config.required_tags.
#
# A resource's tags are the provider's default_tags merged with its own "tags" (and
# "tags_all" when the plan carries it; the "tag" blocks of an aws_autoscaling_group). Only the
# keys are checked. Taggable means any managed aws_* resource except the known non-taggable
# types below. A "tags" value that is a Terraform expression instead of a map cannot be read,
# so only default_tags count for that resource. An empty or missing required_tags list
# requires nothing.
package opsdeck.rules.tags

deny contains {"rule": "tags.required", "reason": reason} if {
	count(_required) > 0
	some r in _resources
	_managed(r)
	_kept(r)
	is_string(r.type)
	startswith(r.type, "aws_")
	not r.type in _non_taggable
	missing := _required - _tag_keys(r)
	count(missing) > 0
	reason := sprintf("%s is missing required tags: %s", [_addr(r), _join(missing)])
}

warn contains r if {
	some r in set()
}

info contains r if {
	some r in set()
}

_required := {k | some k in _cfg.required_tags; is_string(k); k != ""} if {
	is_array(_cfg.required_tags)
} else := set()

_default_tag_keys := object.keys(input.provider.default_tags) if {
	is_object(input.provider.default_tags)
} else := set()

_tag_keys(r) := ((_default_tag_keys | _keys_of(_attrs(r), "tags")) | _keys_of(_attrs(r), "tags_all")) | _asg_tag_keys(r)

_keys_of(obj, key) := object.keys(obj[key]) if is_object(obj[key]) else := set()

# aws_autoscaling_group carries tags as repeated `tag { key = ... }` blocks.
_asg_tag_keys(r) := {t.key |
	some t in _blocks(object.get(_attrs(r), "tag", null))
	is_object(t)
	is_string(t.key)
} if {
	r.type == "aws_autoscaling_group"
} else := set()

# Resource types that have no tags argument (associations, attachments, rules, policies,
# bucket sub-resources, ...). Anything else starting with aws_ is treated as taggable.
_non_taggable := {
	"aws_api_gateway_base_path_mapping",
	"aws_api_gateway_deployment",
	"aws_api_gateway_integration",
	"aws_api_gateway_integration_response",
	"aws_api_gateway_method",
	"aws_api_gateway_method_response",
	"aws_api_gateway_resource",
	"aws_appautoscaling_policy",
	"aws_appautoscaling_scheduled_action",
	"aws_autoscaling_attachment",
	"aws_autoscaling_lifecycle_hook",
	"aws_autoscaling_notification",
	"aws_autoscaling_policy",
	"aws_autoscaling_schedule",
	"aws_cloudfront_origin_access_control",
	"aws_cloudfront_origin_access_identity",
	"aws_cloudwatch_event_target",
	"aws_cloudwatch_log_stream",
	"aws_cloudwatch_log_subscription_filter",
	"aws_ebs_default_kms_key",
	"aws_ebs_encryption_by_default",
	"aws_ecr_lifecycle_policy",
	"aws_ecr_repository_policy",
	"aws_eip_association",
	"aws_elb_attachment",
	"aws_iam_access_key",
	"aws_iam_account_alias",
	"aws_iam_account_password_policy",
	"aws_iam_group",
	"aws_iam_group_membership",
	"aws_iam_group_policy",
	"aws_iam_group_policy_attachment",
	"aws_iam_policy_attachment",
	"aws_iam_role_policy",
	"aws_iam_role_policy_attachment",
	"aws_iam_user_group_membership",
	"aws_iam_user_policy",
	"aws_iam_user_policy_attachment",
	"aws_internet_gateway_attachment",
	"aws_kms_alias",
	"aws_lambda_permission",
	"aws_lb_listener_certificate",
	"aws_lb_target_group_attachment",
	"aws_main_route_table_association",
	"aws_network_acl_association",
	"aws_network_acl_rule",
	"aws_network_interface_attachment",
	"aws_network_interface_sg_attachment",
	"aws_route",
	"aws_route53_record",
	"aws_route53_zone_association",
	"aws_route_table_association",
	"aws_s3_account_public_access_block",
	"aws_s3_bucket_accelerate_configuration",
	"aws_s3_bucket_acl",
	"aws_s3_bucket_cors_configuration",
	"aws_s3_bucket_lifecycle_configuration",
	"aws_s3_bucket_logging",
	"aws_s3_bucket_notification",
	"aws_s3_bucket_ownership_controls",
	"aws_s3_bucket_policy",
	"aws_s3_bucket_public_access_block",
	"aws_s3_bucket_replication_configuration",
	"aws_s3_bucket_request_payment_configuration",
	"aws_s3_bucket_server_side_encryption_configuration",
	"aws_s3_bucket_versioning",
	"aws_s3_bucket_website_configuration",
	"aws_security_group_rule",
	"aws_sns_topic_policy",
	"aws_sns_topic_subscription",
	"aws_sqs_queue_policy",
	"aws_volume_attachment",
	"aws_vpc_endpoint_route_table_association",
	"aws_vpc_endpoint_subnet_association",
	"aws_vpc_ipv4_cidr_block_association",
}

# --- helpers ---

_cfg := input.config if is_object(input.config) else := {}

_resources := [r | some r in input.resources; is_object(r)] if {
	is_array(input.resources)
} else := []

_managed(r) if object.get(r, "mode", "managed") == "managed"

_kept(r) if object.get(r, "change", "create") != "delete"

_attrs(r) := r.attributes if is_object(r.attributes) else := {}

_addr(r) := r.address if is_string(r.address) else := sprintf("%v.%v", [object.get(r, "type", "?"), object.get(r, "name", "?")])

_blocks(x) := x if is_array(x) else := [x] if is_object(x) else := []

_join(xs) := concat(", ", sort([sprintf("%v", [x]) | some x in xs]))
