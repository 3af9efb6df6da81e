//! A deployer that sends mail. Only alert sinks are linked to `ferry:plugin/smtp`, so the host
//! refuses this component at load.

use ferry_sdk::mail::Mail;
use ferry_sdk::prelude::*;
use ferry_sdk::{Deployer, Deployment, DeploymentPlan, DeploymentStatus};

pub struct MailingDeployer;

impl Plugin for MailingDeployer {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("mailing-deployer")
    }
}

impl Deployer for MailingDeployer {
    fn plan(_deployment: &Deployment) -> Result<DeploymentPlan> {
        Ok(DeploymentPlan { actions: vec![] })
    }

    fn apply(_deployment: &Deployment) -> Result<DeploymentStatus> {
        Err(unsupported("apply"))
    }

    fn status(name: &str, _settings: &str) -> Result<DeploymentStatus> {
        Mail::new("127.0.0.1:25", "d@example.com", ["o@example.com"], name, "").send()?;
        Err(unsupported("status"))
    }

    fn rollback(_name: &str, _settings: &str) -> Result<DeploymentStatus> {
        Err(unsupported("rollback"))
    }
}

ferry_sdk::export_deployer!(MailingDeployer);
