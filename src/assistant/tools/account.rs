//! The `account` group: read-only facts about the user's account (the wallet). Offered to
//! every agent, whatever its `tools` list, since it only reads what the user may see.

use serde_json::{Value, json};

use super::{ToolEnv, ToolError, parse, spec, to_value, unknown};
use crate::{error::ApiError, providers::llm::ToolSpec, wallet::service as wallet};

pub const TOOLS: &[&str] = &["get_wallet"];

pub fn specs() -> Vec<ToolSpec> {
    vec![spec(
        "get_wallet",
        "The user's credits: balance, reserved (held for calls in progress) and available.",
        json!({"type": "object", "properties": {}, "additionalProperties": false}),
    )]
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

pub async fn run(env: &ToolEnv<'_>, name: &str, args: Value) -> Result<Value, ToolError> {
    match name {
        "get_wallet" => {
            let NoArgs {} = parse(&args)?;
            let mut conn = env.db().acquire().await.map_err(ApiError::from)?;
            let w = wallet::wallet(&mut conn, env.user())
                .await
                .map_err(ApiError::from)?;
            to_value(
                &json!({"balance": w.balance, "reserved": w.reserved, "available": w.available}),
            )
        }
        other => Err(unknown(other)),
    }
}
