//! `configs`: the tenant's AWS configurations (account role, regions, VPC, tags, budget) and
//! the one each person acts through.

use serde_json::json;

use super::args::ConfigsCommand;
use super::print::print_json;
use crate::error::{Error, Result};
use crate::pipeline::Deck;

pub fn run(deck: &Deck, cmd: ConfigsCommand, json_out: bool) -> Result<u8> {
    use crate::tenant::AwsConfiguration;
    let tags = |list: &[String]| -> Result<std::collections::BTreeMap<String, String>> {
        list.iter()
            .map(|t| {
                t.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| Error::input(format!("tag '{t}' must be KEY=VALUE")))
            })
            .collect()
    };
    let show = |c: &AwsConfiguration| -> Result<()> {
        if json_out {
            return print_json(c);
        }
        outln!("configuration {} (tenant {})", c.name, c.tenant);
        outln!("  account      {}", c.account());
        outln!("  role         {}", c.role_arn);
        if let Some(e) = &c.external_id {
            outln!("  external id  {e}");
        }
        outln!(
            "  regions      {}",
            if c.regions.is_empty() {
                "any (tenant default)".to_string()
            } else {
                c.regions.join(", ")
            }
        );
        if let Some(v) = &c.vpc.vpc_id {
            outln!("  vpc          {v}");
        }
        if !c.vpc.subnet_ids.is_empty() {
            outln!("  subnets      {}", c.vpc.subnet_ids.join(", "));
        }
        if !c.vpc.security_group_ids.is_empty() {
            outln!("  groups       {}", c.vpc.security_group_ids.join(", "));
        }
        if c.vpc.private_only {
            outln!("  private only yes");
        }
        for (k, v) in &c.tags {
            outln!("  tag          {k}={v}");
        }
        if c.budget_usd > 0.0 {
            outln!("  budget       ${:.2}/month", c.budget_usd);
        }
        if !c.description.is_empty() {
            outln!("  description  {}", c.description);
        }
        outln!(
            "  changed      {} by {}",
            c.updated_at
                .as_ref()
                .map_or(String::new(), |t| t.to_string()),
            c.updated_by
        );
        Ok(())
    };
    match cmd {
        ConfigsCommand::Add { name, fields, totp } => {
            let role_arn = fields.role_arn.clone().ok_or_else(|| {
                Error::input("a configuration needs --role-arn arn:aws:iam::ACCOUNT:role/NAME")
            })?;
            let config = AwsConfiguration {
                name,
                tenant: deck.tenant().name.clone(),
                role_arn,
                external_id: fields.external_id.clone(),
                regions: fields.regions.clone(),
                vpc: crate::tenant::configs::VpcPreferences {
                    vpc_id: fields.vpc_id.clone(),
                    subnet_ids: fields.subnets.clone(),
                    security_group_ids: fields.security_groups.clone(),
                    private_only: fields.private_only.unwrap_or(false),
                },
                tags: tags(&fields.tags)?,
                budget_usd: fields.budget.unwrap_or(0.0),
                description: fields.description.clone().unwrap_or_default(),
                read_only: fields.read_only.unwrap_or(false),
                created_at: None,
                created_by: String::new(),
                updated_at: None,
                updated_by: String::new(),
            };
            let c = deck.add_config(config, totp.as_deref())?;
            if json_out {
                print_json(&c)?;
            } else {
                outln!(
                    "added configuration {} (account {}) to tenant {}; act through it with `opsdeck configs use {}`",
                    c.name,
                    c.account(),
                    c.tenant,
                    c.name
                );
            }
            Ok(0)
        }
        ConfigsCommand::List => {
            let all = deck.configs()?;
            let selected = deck.selected_config_name()?;
            if json_out {
                print_json(&json!({"configs": all, "selected": selected}))?;
            } else if all.is_empty() {
                outln!(
                    "tenant {} has no AWS configurations: opsdeck acts with the base credentials (`opsdeck configs add NAME --role-arn ...`)",
                    deck.tenant().name
                );
            } else {
                for c in &all {
                    let mark = if selected.as_deref() == Some(c.name.as_str())
                        || (selected.is_none() && all.len() == 1)
                    {
                        "*"
                    } else {
                        " "
                    };
                    outln!(
                        "{mark} {:<20} {:<14} {:<28} {}",
                        c.name,
                        c.account(),
                        c.regions.join(","),
                        c.description
                    );
                }
            }
            Ok(0)
        }
        ConfigsCommand::Show { name } => {
            show(&deck.config(&name)?)?;
            Ok(0)
        }
        ConfigsCommand::Update {
            name,
            fields,
            clear_external_id,
            clear_vpc,
            totp,
        } => {
            let new_tags = if fields.tags.is_empty() {
                None
            } else {
                Some(tags(&fields.tags)?)
            };
            let c = deck.update_config(
                &name,
                &mut |c| {
                    if let Some(r) = &fields.role_arn {
                        c.role_arn = r.clone();
                    }
                    if clear_external_id {
                        c.external_id = None;
                    }
                    if let Some(e) = &fields.external_id {
                        c.external_id = Some(e.clone());
                    }
                    if !fields.regions.is_empty() {
                        c.regions = fields.regions.clone();
                    }
                    if clear_vpc {
                        c.vpc = Default::default();
                    }
                    if let Some(v) = &fields.vpc_id {
                        c.vpc.vpc_id = Some(v.clone());
                    }
                    if !fields.subnets.is_empty() {
                        c.vpc.subnet_ids = fields.subnets.clone();
                    }
                    if !fields.security_groups.is_empty() {
                        c.vpc.security_group_ids = fields.security_groups.clone();
                    }
                    if let Some(r) = fields.read_only {
                        c.read_only = r;
                    }
                    if let Some(p) = fields.private_only {
                        c.vpc.private_only = p;
                    }
                    if let Some(t) = &new_tags {
                        c.tags = t.clone();
                    }
                    if let Some(b) = fields.budget {
                        c.budget_usd = b;
                    }
                    if let Some(d) = &fields.description {
                        c.description = d.clone();
                    }
                },
                totp.as_deref(),
            )?;
            if json_out {
                print_json(&c)?;
            } else {
                show(&c)?;
            }
            Ok(0)
        }
        ConfigsCommand::Remove { name, totp } => {
            deck.remove_config(&name, totp.as_deref())?;
            if json_out {
                print_json(&json!({"removed": name}))?;
            } else {
                outln!(
                    "removed configuration {name} from tenant {}",
                    deck.tenant().name
                );
            }
            Ok(0)
        }
        ConfigsCommand::Use { name } => {
            let chosen = deck.select_config((name != "none").then_some(name.as_str()))?;
            if json_out {
                print_json(&json!({"selected": chosen.as_ref().map(|c| &c.name)}))?;
            } else {
                match chosen {
                    Some(c) => outln!(
                        "{} now acts through configuration {} (account {}) in tenant {}",
                        deck.identity().user,
                        c.name,
                        c.account(),
                        deck.tenant().name
                    ),
                    None => outln!(
                        "{} now acts with the base credentials in tenant {}",
                        deck.identity().user,
                        deck.tenant().name
                    ),
                }
            }
            Ok(0)
        }
        ConfigsCommand::Check { name } => {
            let who = deck.check_config(name.as_deref())?;
            if json_out {
                print_json(&who)?;
            } else {
                outln!(
                    "{} → account {} as {}",
                    who.configuration.as_deref().unwrap_or("base credentials"),
                    who.account,
                    who.arn
                );
            }
            Ok(0)
        }
    }
}
