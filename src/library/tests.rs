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
