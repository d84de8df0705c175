//! The goal planner: `POST /api/v1/goals/{id}/plan` asks the agent's language model for a
//! structured plan (a `propose_plan` tool call whose arguments follow a JSON Schema, or the
//! same JSON as text), then creates the tasks linked to the goal (`source: goal_plan`) and
//! bills the model's usage, all in one transaction. Proposed tasks are validated with the
//! same `CreateTask` rules as the REST API (invalid ones are skipped). A small domain: model, rules and
//! handler live in this one file; it is merged (not nested) so the goals module stays as it
//! is.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    auth::AuthUser,
    chat::service::{bill_llm, minimal_reply_cost, usable_agent},
    error::{ApiError, ApiResult, Problem, ResultExt},
    events,
    http::{Validate, json::parse_json},
    providers::llm::{ChatMessage, ToolSpec},
    state::AppState,
    tasks::{
        model::{CreateTask, Priority, Task, TaskOrigin, TaskSource, TaskStatus},
        service as tasks,
    },
    wallet::{
        pricing::{self, LlmUsage},
        service as wallet,
    },
};

/// The built-in "Planner" agent.
pub const PLANNER_AGENT_ID: Uuid = Uuid::from_u128(0x019a0000_0000_7000_8000_000000000002);
/// At most this many tasks are created from one plan.
pub const MAX_PLAN_TASKS: usize = 20;

/// `POST /goals/{id}/plan` (the body may be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanGoal {
    /// Plan with this agent (default: the built-in planner).
    #[serde(default)]
    pub agent_id: Option<Uuid>,
}

/// The created tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct Plan {
    pub tasks: Vec<Task>,
}

/// One task as the model proposes it.
#[derive(Debug, Deserialize)]
struct ProposedTask {
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    priority: Option<Priority>,
    #[serde(default)]
    due_date: Option<NaiveDate>,
}

#[derive(Debug, Deserialize)]
struct Proposal {
    tasks: Vec<Value>,
}

fn plan_tool() -> ToolSpec {
    ToolSpec {
        name: "propose_plan".into(),
        description: "Propose the tasks that achieve the goal.".into(),
        parameters: json!({"type": "object", "properties": {"tasks": {"type": "array",
            "maxItems": MAX_PLAN_TASKS, "items": {"type": "object", "properties": {
                "title": {"type": "string"}, "description": {"type": "string"},
                "priority": {"type": "string", "enum": ["low", "medium", "high", "urgent"]},
                "due_date": {"type": "string", "description": "YYYY-MM-DD"}},
                "required": ["title"]}}},
            "required": ["tasks"]}),
    }
}

/// The proposal from the tool call, else from JSON in the text (fences tolerated).
fn read_proposal(text: &str, calls: &[crate::providers::llm::ToolCall]) -> Option<Proposal> {
    if let Some(c) = calls.iter().find(|c| c.name == "propose_plan")
        && let Ok(p) = serde_json::from_str::<Proposal>(&c.arguments)
    {
        return Some(p);
    }
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    serde_json::from_str(text.get(start..=end)?).ok()
}

/// Break a goal into tasks with the AI planner: the tasks are created linked to the goal
/// with `source: goal_plan`, and the model's usage is billed to the wallet.
#[utoipa::path(post, path = "/api/v1/goals/{id}/plan", tag = "goals", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body(content = Option<PlanGoal>),
    responses((status = 201, body = Plan), (status = 402, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem),
              (status = 502, body = Problem)))]
pub async fn plan_goal(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Plan>)> {
    let input: PlanGoal = if body.iter().all(u8::is_ascii_whitespace) {
        PlanGoal::default()
    } else {
        parse_json(&body)?
    };
    let db = &state.db;
    let user_id = auth.user_id;
    let goal = crate::goals::service::get_goal(db, user_id, id).await?;
    let agent = match input.agent_id {
        Some(a) => usable_agent(db, user_id, a).await?,
        None => crate::agents::service::find(db, PLANNER_AGENT_ID, user_id).await?,
    };

    let user = crate::users::repo::find(db, user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let tz: chrono_tz::Tz = user.timezone.parse().unwrap_or(chrono_tz::UTC);
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let existing = tasks::list_tasks(
        db,
        user_id,
        crate::tasks::model::TaskFilter {
            goal: crate::http::LinkFilter::Is(goal.id),
            ..Default::default()
        },
        crate::http::KeysetPagination {
            limit: 50,
            cursor: None,
        },
    )
    .await?
    .data;
    let mut ask = format!(
        "Goal: {}\nTimeframe: {}\nPriority: {}\n",
        goal.title,
        goal.timeframe.as_str(),
        goal.priority.as_str()
    );
    if let Some(d) = &goal.description {
        ask.push_str(&format!("Description: {d}\n"));
    }
    if let Some(d) = goal.due_date {
        ask.push_str(&format!("Due: {d}\n"));
    }
    if !existing.is_empty() {
        ask.push_str("Tasks it already has (do not repeat them):\n");
        for t in &existing {
            ask.push_str(&format!("- {}\n", t.title));
        }
    }
    let system = format!(
        "{}\n\nToday is {today}. Break the goal into 3 to 8 small, concrete tasks with due dates \
         on or after today and sensible priorities. Answer by calling propose_plan exactly once \
         (or with only the JSON object {{\"tasks\": [...]}}).",
        agent.system_prompt.trim()
    );

    let needed = minimal_reply_cost(&state, &agent, &ask);
    let available = {
        let mut conn = db.acquire().await?;
        wallet::wallet(&mut conn, user_id).await?.available
    };
    if available < needed {
        return Err(ApiError::InsufficientCredits(format!(
            "planning needs at least {needed} credits, {available} available"
        )));
    }

    let mut request = agent.llm_request(vec![ChatMessage::system(system), ChatMessage::user(ask)]);
    request.tools = vec![plan_tool()];
    let llm = agent.llm_provider(&state.providers);
    let reply = match llm.stream_chat(request).await {
        Ok(stream) => stream.collect().await,
        Err(e) => Err(e),
    };
    let (text, done) = reply.map_err(|e| {
        tracing::warn!(error = %e, "goal planning failed at the provider");
        ApiError::Provider("the language model provider failed; please try again".into())
    })?;
    let model = if done.model.is_empty() {
        agent.llm.model.clone().unwrap_or_default()
    } else {
        done.model.clone()
    };
    let usage = pricing::Usage {
        llm: vec![LlmUsage::new(
            model,
            u64::from(done.usage.input_tokens),
            u64::from(done.usage.output_tokens),
        )],
        ..Default::default()
    };

    let proposed: Vec<CreateTask> = read_proposal(&text, &done.tool_calls)
        .map(|p| p.tasks)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| serde_json::from_value::<ProposedTask>(v).ok())
        .map(|p| CreateTask {
            title: p.title,
            description: p.description.filter(|d| !d.trim().is_empty()),
            priority: p.priority,
            due_date: p.due_date,
            goal_id: Some(goal.id),
            ..CreateTask::default()
        })
        .filter(|t| t.validate().is_ok())
        .take(MAX_PLAN_TASKS)
        .collect();

    let mut tx = db.begin().await?;
    bill_llm(
        &state,
        &mut tx,
        user_id,
        &usage,
        "goal",
        goal.id,
        "Goal plan",
    )
    .await?;
    if proposed.is_empty() {
        // The model was used (and is paid for) but gave nothing to create.
        tx.commit().await?;
        return Err(ApiError::Provider(
            "the planner did not return a usable plan; please try again".into(),
        ));
    }
    let origin = TaskOrigin {
        source: TaskSource::GoalPlan,
        reference: Some(goal.id.to_string()),
    };
    let mut created = Vec::with_capacity(proposed.len());
    for input in proposed {
        // Validated above and linked to a goal of the user's: inserted through the tasks repo
        // because the service's generic `Acquire` future over a transaction is not `Send`.
        let metadata = json!({});
        let task: Task = crate::tasks::repo::insert(
            &mut *tx,
            crate::tasks::repo::NewTask {
                id: Uuid::now_v7(),
                user_id,
                title: input.title.trim(),
                description: input.description.as_deref(),
                status: TaskStatus::Todo.as_str(),
                priority: input.priority.unwrap_or(Priority::Medium).as_str(),
                due_date: input.due_date,
                due_time: None,
                parent_id: None,
                goal_id: Some(goal.id),
                note_id: None,
                source: origin.source.as_str(),
                source_reference: origin.reference.as_deref(),
                metadata: &metadata,
                remind_at: None,
                estimate_minutes: input.estimate_minutes,
            },
        )
        .await
        .on_constraint("tasks_goal_fk", || ApiError::NotFound)?
        .try_into()?;
        events::publish(&mut *tx, user_id, "task.created", &task).await?;
        created.push(task);
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(Plan { tasks: created })))
}

/// `POST /api/v1/goals/{id}/plan` (a full path: merged next to the goals router).
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(plan_goal))
}
