//! What an estimate prices, in both vocabularies: the Price List API's product attributes
//! (service code, exact-match filters, the usage type that tells the hourly product from its
//! per-GB sibling) and the bundled table's keys.

use crate::aws::pricing::ProductQuery;

use super::table::PriceTable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalancerKind {
    Application,
    Network,
}

/// One priced product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceKey {
    /// An EC2 instance hour, Linux, shared tenancy, no pre-installed software.
    Instance {
        instance_type: String,
    },
    /// EBS volume storage per GB-month by volume type (`gp3`, `gp2`, ...).
    EbsVolume {
        volume_type: String,
    },
    /// EBS snapshot storage per GB-month (standard tier).
    EbsSnapshot,
    LoadBalancer(LoadBalancerKind),
    /// One LCU (ALB) or NLCU (NLB) hour.
    LoadBalancerCapacity(LoadBalancerKind),
    NatGateway,
    /// Per GB a NAT gateway processes (a usage price: notes only).
    NatGatewayData,
    /// An in-use public IPv4 address hour.
    PublicIpv4,
    /// An RDS instance hour, Single-AZ. Engine `postgres` or `mysql` (MariaDB lists as MySQL).
    RdsInstance {
        engine: String,
        class: String,
    },
    /// RDS gp3 storage per GB-month, Single-AZ.
    RdsGp3Storage,
    /// S3 Standard storage per GB-month, first tier (a usage price: notes only).
    S3Standard,
    /// One CloudWatch metric for a month, first tier (detailed monitoring's metrics).
    CloudWatchMetric,
}

/// The unit a price is quoted in, which decides the unit the API must answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Hour,
    GbMonth,
    Gb,
    /// One metric for a month (CloudWatch quotes `Metrics`).
    MetricMonth,
}

impl Unit {
    /// Whether a Price List API unit (`Hrs`, `LCU-Hrs`, `GB-Mo`, `GB`) is this unit.
    pub fn accepts(self, api_unit: &str) -> bool {
        let u = api_unit.to_ascii_lowercase();
        match self {
            Unit::Hour => u == "hrs" || u.ends_with("-hrs") || u == "hours",
            Unit::GbMonth => u == "gb-mo" || u == "gb-month",
            Unit::Gb => u == "gb",
            Unit::MetricMonth => u == "metrics" || u == "metric-month",
        }
    }

    /// The highest price per unit accepted from the API: far above any list price of the
    /// products priced here, so only nonsense is refused.
    pub fn ceiling(self) -> f64 {
        match self {
            Unit::Hour => 500.0,
            Unit::GbMonth => 5.0,
            Unit::Gb => 5.0,
            Unit::MetricMonth => 5.0,
        }
    }
}

impl PriceKey {
    /// Stable id, the key in the price cache.
    pub fn id(&self) -> String {
        match self {
            PriceKey::Instance { instance_type } => format!("ec2/{instance_type}"),
            PriceKey::EbsVolume { volume_type } => format!("ebs/{volume_type}"),
            PriceKey::EbsSnapshot => "ebs/snapshot".into(),
            PriceKey::LoadBalancer(k) => format!("elb/{}", lb_code(*k)),
            PriceKey::LoadBalancerCapacity(k) => format!("elb/{}-capacity", lb_code(*k)),
            PriceKey::NatGateway => "vpc/nat-gateway".into(),
            PriceKey::NatGatewayData => "vpc/nat-gateway-data".into(),
            PriceKey::PublicIpv4 => "vpc/public-ipv4".into(),
            PriceKey::RdsInstance { engine, class } => format!("rds/{engine}/{class}"),
            PriceKey::RdsGp3Storage => "rds/gp3-storage".into(),
            PriceKey::S3Standard => "s3/standard".into(),
            PriceKey::CloudWatchMetric => "cloudwatch/metric".into(),
        }
    }

    /// What a person calls it, in notes.
    pub fn label(&self) -> String {
        match self {
            PriceKey::Instance { instance_type } => format!("EC2 {instance_type}"),
            PriceKey::EbsVolume { volume_type } => format!("EBS {volume_type} storage"),
            PriceKey::EbsSnapshot => "EBS snapshot storage".into(),
            PriceKey::LoadBalancer(LoadBalancerKind::Application) => {
                "Application Load Balancer".into()
            }
            PriceKey::LoadBalancer(LoadBalancerKind::Network) => "Network Load Balancer".into(),
            PriceKey::LoadBalancerCapacity(LoadBalancerKind::Application) => "ALB LCU".into(),
            PriceKey::LoadBalancerCapacity(LoadBalancerKind::Network) => "NLB NLCU".into(),
            PriceKey::NatGateway => "NAT gateway".into(),
            PriceKey::NatGatewayData => "NAT gateway data processed".into(),
            PriceKey::PublicIpv4 => "public IPv4 address".into(),
            PriceKey::RdsInstance { engine, class } => format!("RDS {engine} {class}"),
            PriceKey::RdsGp3Storage => "RDS gp3 storage".into(),
            PriceKey::S3Standard => "S3 Standard storage".into(),
            PriceKey::CloudWatchMetric => "CloudWatch metric".into(),
        }
    }

    pub fn unit(&self) -> Unit {
        match self {
            PriceKey::EbsVolume { .. }
            | PriceKey::EbsSnapshot
            | PriceKey::RdsGp3Storage
            | PriceKey::S3Standard => Unit::GbMonth,
            PriceKey::NatGatewayData => Unit::Gb,
            PriceKey::CloudWatchMetric => Unit::MetricMonth,
            _ => Unit::Hour,
        }
    }

    /// The GetProducts query for this product in `region`.
    pub fn query(&self, region: &str) -> ProductQuery {
        let mut f: Vec<(&str, String)> = vec![("regionCode", region.to_string())];
        let service = match self {
            PriceKey::Instance { instance_type } => {
                f.extend([
                    ("instanceType", instance_type.clone()),
                    ("operatingSystem", "Linux".into()),
                    ("tenancy", "Shared".into()),
                    ("preInstalledSw", "NA".into()),
                    ("capacitystatus", "Used".into()),
                    ("licenseModel", "No License required".into()),
                ]);
                "AmazonEC2"
            }
            PriceKey::EbsVolume { volume_type } => {
                f.extend([
                    ("productFamily", "Storage".into()),
                    ("volumeApiName", volume_type.clone()),
                ]);
                "AmazonEC2"
            }
            PriceKey::EbsSnapshot => {
                f.push(("productFamily", "Storage Snapshot".into()));
                "AmazonEC2"
            }
            PriceKey::LoadBalancer(k) | PriceKey::LoadBalancerCapacity(k) => {
                f.push(("productFamily", lb_family(*k).into()));
                "AWSELB"
            }
            PriceKey::NatGateway | PriceKey::NatGatewayData => {
                f.push(("productFamily", "NAT Gateway".into()));
                "AmazonEC2"
            }
            PriceKey::PublicIpv4 => {
                f.push(("productFamily", "VPC Public IPv4 Address".into()));
                "AmazonVPC"
            }
            PriceKey::RdsInstance { engine, class } => {
                f.extend([
                    ("instanceType", class.clone()),
                    ("databaseEngine", rds_engine(engine).into()),
                    ("deploymentOption", "Single-AZ".into()),
                ]);
                "AmazonRDS"
            }
            PriceKey::RdsGp3Storage => {
                f.extend([
                    ("productFamily", "Database Storage".into()),
                    ("volumeType", "General Purpose-GP3".into()),
                    ("deploymentOption", "Single-AZ".into()),
                ]);
                "AmazonRDS"
            }
            PriceKey::S3Standard => {
                f.extend([
                    ("productFamily", "Storage".into()),
                    ("volumeType", "Standard".into()),
                ]);
                "AmazonS3"
            }
            PriceKey::CloudWatchMetric => {
                f.push(("productFamily", "Metric".into()));
                "AmazonCloudWatch"
            }
        };
        ProductQuery {
            service_code: service.to_string(),
            filters: f.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }

    /// The end of the `usagetype` attribute that picks this product among those the query
    /// matches (usage types carry a region prefix such as `EUC1-`), when the filters alone
    /// match more than one kind of charge.
    pub fn usage_type_suffix(&self) -> Option<&'static str> {
        match self {
            PriceKey::EbsSnapshot => Some("EBS:SnapshotUsage"),
            PriceKey::LoadBalancer(_) => Some("LoadBalancerUsage"),
            PriceKey::LoadBalancerCapacity(_) => Some("LCUUsage"),
            PriceKey::NatGateway => Some("NatGateway-Hours"),
            PriceKey::NatGatewayData => Some("NatGateway-Bytes"),
            PriceKey::PublicIpv4 => Some("PublicIPv4:InUseAddress"),
            PriceKey::RdsGp3Storage => Some("GP3-Storage"),
            PriceKey::S3Standard => Some("TimedStorage-ByteHrs"),
            PriceKey::CloudWatchMetric => Some("CW:MetricMonitorUsage"),
            _ => None,
        }
    }

    /// The us-east-1 list price in the bundled table, in this key's unit.
    pub fn bundled(&self, t: &PriceTable) -> Option<f64> {
        let other = |k: &str| t.other_hourly_usd.get(k).copied();
        match self {
            PriceKey::Instance { instance_type } => {
                t.instance_hourly_usd.get(instance_type).copied()
            }
            PriceKey::EbsVolume { volume_type } => t
                .ebs_gb_month_usd
                .get(volume_type)
                .copied()
                .or_else(|| other(&format!("{volume_type}_gb_month"))),
            PriceKey::EbsSnapshot => t.ebs_gb_month_usd.get("snapshot").copied(),
            PriceKey::LoadBalancer(LoadBalancerKind::Application) => other("alb"),
            PriceKey::LoadBalancer(LoadBalancerKind::Network) => other("nlb"),
            PriceKey::LoadBalancerCapacity(LoadBalancerKind::Application) => other("alb_lcu"),
            PriceKey::LoadBalancerCapacity(LoadBalancerKind::Network) => other("nlb_nlcu"),
            PriceKey::NatGateway => other("nat_gateway"),
            PriceKey::NatGatewayData => t.usage_usd.get("nat_gb_processed").copied(),
            PriceKey::PublicIpv4 => other("public_ipv4"),
            PriceKey::RdsInstance { engine, class } => t
                .rds_hourly_usd
                .get(engine.as_str())
                .and_then(|m| m.get(class))
                .copied(),
            PriceKey::RdsGp3Storage => other("rds_gp3_gb_month"),
            PriceKey::S3Standard => other("s3_standard_gb_month"),
            PriceKey::CloudWatchMetric => other("cloudwatch_metric_month"),
        }
    }

    /// Usage prices are the same list price everywhere in the table: not scaled by region.
    pub fn regional(&self) -> bool {
        !matches!(self, PriceKey::NatGatewayData)
    }

    /// The table section whose origin note goes with a bundled price of this key.
    pub fn provenance(&self) -> Option<&'static str> {
        match self {
            PriceKey::RdsInstance { .. } | PriceKey::RdsGp3Storage => Some("rds"),
            PriceKey::NatGateway | PriceKey::NatGatewayData | PriceKey::PublicIpv4 => Some("vpc"),
            PriceKey::CloudWatchMetric => Some("cloudwatch"),
            _ => None,
        }
    }
}

fn lb_code(k: LoadBalancerKind) -> &'static str {
    match k {
        LoadBalancerKind::Application => "alb",
        LoadBalancerKind::Network => "nlb",
    }
}

fn lb_family(k: LoadBalancerKind) -> &'static str {
    match k {
        LoadBalancerKind::Application => "Load Balancer-Application",
        LoadBalancerKind::Network => "Load Balancer-Network",
    }
}

/// The Price List API's `databaseEngine` for our engine names.
fn rds_engine(engine: &str) -> &'static str {
    if engine == "postgres" {
        "PostgreSQL"
    } else {
        "MySQL"
    }
}
