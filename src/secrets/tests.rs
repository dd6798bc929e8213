use super::*;

/// (text, rule id expected, the secret that must be masked)
const FOUND: &[(&str, &str, &str)] = &[
    (
        "use key AKIAIOSFODNN7EXAMPLE",
        "aws-access-key-id",
        "IOSFODNN7EXAMPLE",
    ),
    (
        "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws-secret-access-key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "tag owner=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws-secret-access-key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "create user bob with password Hunter3x",
        "password",
        "Hunter3x",
    ),
    ("password Hunter3x please", "password", "Hunter3x"),
    ("the master password is swordfish", "password", "swordfish"),
    (
        "the db password should be Zq8-unicorn",
        "password",
        "Zq8-unicorn",
    ),
    (
        "tag the instances pw=Fake.Pass,env=prod",
        "password",
        "Fake.Pass",
    ),
    (
        "reset the password for user bob to Qx7!cat",
        "password",
        "Qx7!cat",
    ),
    (
        "use Plum9Tree as the admin password",
        "password",
        "Plum9Tree",
    ),
    ("{\"password\": \"kumquat-77\"}", "password", "kumquat-77"),
    (
        "set the api token: abcdefgh12",
        "secret-value",
        "abcdefgh12",
    ),
    (
        "deploy with ghp_FAKE0EXAMPLE0TOKEN0VALUE00000000000",
        "github-token",
        "FAKE0EXAMPLE0TOKEN",
    ),
    (
        "notify https://hooks.slack.com/services/T0FAKE/B0FAKE/XXXXFAKEXXXX",
        "slack-webhook",
        "T0FAKE/B0FAKE",
    ),
    (
        "connect to postgres://admin:Sup3rS3cret@db.internal:5432/app",
        "url-credentials",
        "Sup3rS3cret",
    ),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEFAKEFAKEFAKE\n-----END RSA PRIVATE KEY-----",
        "private-key",
        "MIIEFAKEFAKEFAKE",
    ),
];

#[test]
fn finds_each_shape_and_phrasing() {
    for (text, rule, secret) in FOUND {
        let findings = scan(text);
        assert!(
            findings.iter().any(|f| f.rule.id == *rule),
            "{text}: expected {rule}, found {:?}",
            findings.iter().map(|f| f.rule.id).collect::<Vec<_>>()
        );
        let masked = mask(text);
        assert!(!masked.contains(secret), "{text} masked as {masked}");
        assert_eq!(mask(&masked), masked, "idempotent on {text}");
        let refusal = check(text).unwrap_err().to_string();
        assert!(!refusal.contains(secret), "{refusal}");
    }
}

#[test]
fn ordinary_words_after_credential_words_are_not_credentials() {
    for text in [
        "rotate the secret db-password",
        "rotate secret staging/db-password",
        "create a secret in secrets manager",
        "reset the password policy",
        "tag env=prod",
        "lock down ssh on prod servers: disable root login and password auth",
        "rotate the stripe-webhook-token secret now",
        "can you rotate the secret called svc/reporting/api-token in eu-central-1",
        "enforce a minimum password length of 14",
        "set the password policy minimum length to 14",
        "the master password is managed by RDS in Secrets Manager",
        "what is the password policy",
        "create an IAM user with password reset required",
        "list secrets without rotation",
        "check for IAM access keys older than 90 days",
        "manage_master_user_password = true",
        "password = var.db_password",
        "token = \"${TOKEN}\"",
        "rotate secret prod/db/MainPassword2024",
        "deploy commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "http_tokens = \"required\"",
        "ssh://git@github.com/org/repo",
        "{\"secret\": \"staging/db-password\", \"version\": \"v2\"}",
    ] {
        let found: Vec<_> = scan(text).iter().map(|f| f.shown.clone()).collect();
        assert!(found.is_empty(), "{text}: {found:?}");
    }
}

#[test]
fn masks_show_public_prefixes_only() {
    let r =
        check("key AKIAIOSFODNN7EXAMPLE and ghp_FAKE0EXAMPLE0TOKEN0VALUE00000000000").unwrap_err();
    let msg = r.to_string();
    assert!(msg.contains("AKIA****************"), "{msg}");
    assert!(msg.contains("ghp_****"), "{msg}");
    assert!(msg.contains("an AWS access key id"), "{msg}");
    assert!(msg.contains("aws secretsmanager create-secret"), "{msg}");
    assert_eq!(r.rule_ids(), ["aws-access-key-id", "github-token"]);
    let msg = check("pw=Fake.Pass").unwrap_err().to_string();
    assert!(msg.contains("a password (pw=****)"), "{msg}");
}

#[test]
fn every_rule_is_reachable_and_described() {
    let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), RULES.len(), "rule ids are unique");
    for r in RULES {
        assert!(!r.kind.is_empty() && !r.description.is_empty(), "{}", r.id);
    }
}

#[test]
fn names_are_not_credentials_but_random_tokens_are() {
    assert!(!is_credential("db-password"));
    assert!(!is_credential("prod/db/MainPassword2024"));
    assert!(!is_credential("payments-api-key"));
    assert!(is_credential("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
    assert!(is_credential("Xk29fj3kLm2P9qRz8WvT4"));
    assert!(is_credential("ghp_FAKE0EXAMPLE0TOKEN0VALUE00000000000"));
}
