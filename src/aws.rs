//! The AWS configuration from the standard chain (region, credentials, endpoint overrides),
//! loaded at most once per process and shared by the SES and Secrets Manager clients.
use aws_config::SdkConfig;
use tokio::sync::OnceCell;

pub async fn shared_config() -> &'static SdkConfig {
    static CONFIG: OnceCell<SdkConfig> = OnceCell::const_new();
    CONFIG
        .get_or_init(|| aws_config::load_defaults(aws_config::BehaviorVersion::latest()))
        .await
}
