use super::*;

#[test]
fn entry_refs_parse_or_say_why() {
    assert_eq!(
        EntryRef::parse("web-tier@3").unwrap(),
        EntryRef {
            name: "web-tier".into(),
            version: Some(3)
        }
    );
    assert_eq!(EntryRef::parse("web-tier").unwrap().version, None);
    assert!(EntryRef::parse("web-tier@0").is_err());
    assert!(EntryRef::parse("Web_Tier").is_err());
    assert!(EntryRef::parse("web-tier@x").is_err());
}

#[test]
fn params_are_typed_and_refused_out_of_type() {
    let p = parse_param("instance_count:number=2").unwrap();
    assert_eq!(p.default, Some(json!(2)));
    assert!(parse_param("instance_count:number=two").is_err());
    assert!(parse_param("x:list").is_err());
    assert!(parse_param("Bad:string").is_err());
    let params = vec![
        p,
        parse_param("greeting:string").unwrap(),
        parse_param("public:bool=false").unwrap(),
    ];
    let v = resolve_values(&params, &["greeting=hi ${danger}".into()], &Values::new()).unwrap();
    assert_eq!(v["instance_count"], json!(2));
    assert_eq!(v["public"], json!(false));
    // Template sequences stay literal text in what is written.
    let tfvars = render_tfvars(&v);
    assert!(tfvars.contains("greeting = \"hi $${danger}\""), "{tfvars}");
    assert!(
        resolve_values(&params, &[], &Values::new()).is_err(),
        "no greeting"
    );
    assert!(resolve_values(&params, &["nope=1".into()], &Values::new()).is_err());
    assert!(
        resolve_values(
            &params,
            &["greeting=a".into(), "public=yes".into()],
            &Values::new()
        )
        .is_err()
    );
    assert!(resolve_values(&params, &["greeting=a\nb".into()], &Values::new()).is_err());
}

#[test]
fn variables_without_defaults_must_be_parameters() {
    let tf = |s: &str| vec![("main.tf".to_string(), s.as_bytes().to_vec())];
    let files = tf("variable \"greeting\" {\n  type = string\n}\n");
    assert!(check_variables(&[], &files).is_err());
    assert!(check_variables(&[parse_param("greeting:string=hi").unwrap()], &files).is_ok());
    assert!(check_variables(&[parse_param("other:string").unwrap()], &files).is_err());
}

#[test]
fn requests_name_entries_only_with_an_entry_word_or_a_version() {
    let names = ["web-tier", "db"];
    assert_eq!(
        referenced_entry("deploy our web-tier module in eu-west-1", names)
            .unwrap()
            .name,
        "web-tier"
    );
    assert_eq!(
        referenced_entry("use web-tier@2 please", names)
            .unwrap()
            .version,
        Some(2)
    );
    assert!(referenced_entry("restart the db instances", names).is_none());
    assert!(referenced_entry("deploy our api module", names).is_none());
    assert!(may_name_entry("deploy our web-tier module"));
    assert!(!may_name_entry("restart the db instances"));
}

/// A trail record for the catalogue's tests.
fn record(seq: u64, event: &str, plan: Option<&str>) -> crate::audit::AuditRecord {
    let mut ev = serde_json::json!({
        "eventId": format!("e{seq}"), "requestId": "r", "tenantId": "acme", "userId": "olga",
        "userSource": "test", "osUser": "olga", "timestamp": "2026-01-01T00:00:00Z",
        "event": event, "status": "completed",
        "artifacts": [ref_json("web-tier", "aa11", None, None)],
    });
    if let Some(p) = plan {
        ev["planId"] = serde_json::json!(p);
    }
    serde_json::from_value(serde_json::json!({
        "seq": seq, "prev": "", "hash": "", "key": "", "sig": "", "event": ev,
    }))
    .expect("a record")
}

#[test]
fn the_catalogue_reads_incrementally_and_takes_each_record_once() {
    let mut c = Catalogue::default();
    assert_eq!(c.cursor(), 0);
    let first = [
        record(1, "library_entry_added", None),
        record(2, "requested", None),
        record(3, "library_entry_used", Some("p1")),
    ];
    for r in &first {
        c.record(r);
    }
    assert_eq!(c.cursor(), 3);
    // An overlapping read (another lookup took some of these) changes nothing.
    for r in &first[1..] {
        c.record(r);
    }
    c.record(&record(4, "library_entry_used", Some("p2")));
    c.seen_up_to(6);
    assert_eq!(c.cursor(), 6);
    let v = &c.versions("web-tier")[0];
    let plans: Vec<&str> = v.used_by.iter().map(|u| u.plan_id.as_str()).collect();
    assert_eq!(plans, ["p1", "p2"]);
}
