//! The messages an assistant turn starts from: one system message (the agent's prompt,
//! who the user is, their local date and time, relevant memories and notes, open tasks due
//! soon, active goals), the recent history that fits the token budget (oldest dropped
//! first), and the new user message.

use chrono::{Duration, Utc};
use chrono_tz::Tz;
use sqlx::PgPool;
use uuid::Uuid;

pub use crate::providers::llm::prompt::{any_word_query, clock_lines, parse_clock};
use crate::{
    agents::Agent,
    error::{ApiError, ApiResult},
    goals::{
        model::{GoalFilter, GoalStatus},
        service as goals,
    },
    http::{KeysetPagination, Pagination},
    memories::service as memories,
    notes::service as notes,
    providers::{
        estimate_tokens,
        llm::{ChatMessage, Role},
    },
    tasks::{
        model::{TaskFilter, TaskSort, TaskStatus},
        service as tasks,
    },
};

/// Budgets and how much to retrieve.
#[derive(Debug, Clone, Copy)]
pub struct ContextOptions {
    /// Total tokens for the system message, the history and the new message.
    pub budget_tokens: u32,
    /// Of which the retrieved facts (memories, notes, tasks, goals) may take at most this.
    pub facts_tokens: u32,
    pub memories: i64,
    pub notes: i64,
    /// Tasks due within this many days (overdue ones included).
    pub due_within_days: i64,
    pub tasks: i64,
    pub goals: i64,
}

impl Default for ContextOptions {
    fn default() -> Self {
        Self {
            budget_tokens: 6000,
            facts_tokens: 1500,
            memories: 8,
            notes: 3,
            due_within_days: 7,
            tasks: 10,
            goals: 5,
        }
    }
}

fn tokens(m: &ChatMessage) -> u32 {
    4 + estimate_tokens(&m.content)
        + m.tool_calls
            .iter()
            .map(|c| estimate_tokens(&c.name) + estimate_tokens(&c.arguments))
            .sum::<u32>()
}

/// Appends lines to a section while the facts budget lasts.
struct Facts {
    text: String,
    left: u32,
}

impl Facts {
    /// Add the lines that fit; how many did.
    fn section(&mut self, title: &str, lines: impl IntoIterator<Item = String>) -> usize {
        let mut body = String::new();
        let mut added = 0;
        for line in lines {
            let cost = estimate_tokens(&line) + 1;
            if cost > self.left {
                break;
            }
            self.left -= cost;
            added += 1;
            body.push_str("- ");
            body.push_str(&line);
            body.push('\n');
        }
        if !body.is_empty() {
            self.text.push_str(&format!("\n{title}:\n{body}"));
        }
        added
    }
}

/// A retrieved item the context carried (recorded on the reply as a citation).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Citation {
    pub source_type: crate::rag::model::SourceType,
    pub source_id: Uuid,
}

/// Build the messages for a turn. `history` is the conversation so far, oldest first
/// (without the new message).
pub async fn build(
    db: &PgPool,
    agent: &Agent,
    user_id: Uuid,
    history: &[ChatMessage],
    new_message: &str,
    opts: &ContextOptions,
) -> ApiResult<Vec<ChatMessage>> {
    Ok(
        build_with(db, agent, user_id, history, new_message, opts, None)
            .await?
            .0,
    )
}

/// [`build`], with the relevant memories, notes and tasks given by hybrid retrieval
/// (`retrieved`, best first) instead of full-text recall: as many as fit the facts budget,
/// each returned as a citation.
pub async fn build_with(
    db: &PgPool,
    agent: &Agent,
    user_id: Uuid,
    history: &[ChatMessage],
    new_message: &str,
    opts: &ContextOptions,
    retrieved: Option<&[crate::rag::model::RagResult]>,
) -> ApiResult<(Vec<ChatMessage>, Vec<Citation>)> {
    // Every source is read at once (each query on its own pooled connection): the context
    // is on the critical path of a voice turn, so its latency is the slowest query's, not
    // their sum. The sections are then assembled in a fixed order.
    let query = any_word_query(new_message);
    let user_q = async {
        crate::users::repo::find(db, user_id)
            .await?
            .ok_or(ApiError::NotFound)
    };
    let memories_q = async {
        if let Some(items) = retrieved {
            // Retrieval chose; the newest memories still say who the user is when it found
            // none of them.
            if items
                .iter()
                .any(|r| r.source_type == crate::rag::model::SourceType::Memories)
            {
                return Ok(Vec::new());
            }
            return memories::recall(db, user_id, "", &[], opts.memories.min(3)).await;
        }
        let mut found = if query.is_empty() {
            Vec::new()
        } else {
            memories::recall(db, user_id, &query, &[], opts.memories).await?
        };
        if found.is_empty() {
            // Nothing matched: the most recent memories still tell who the user is.
            found = memories::recall(db, user_id, "", &[], opts.memories.min(3)).await?;
        }
        Ok::<_, ApiError>(found)
    };
    let notes_q = async {
        if query.is_empty() || retrieved.is_some() {
            Ok(Vec::new())
        } else {
            notes::search_notes(db, user_id, &query, opts.notes).await
        }
    };
    let tasks_q = async {
        // "Due soon" is judged in the user's time zone, which the user row tells; UTC's
        // date is at most a day off and the window is days long, so a day of slack is
        // added instead of waiting for that row.
        let today = Utc::now().date_naive();
        Ok::<_, ApiError>(
            tasks::list_tasks(
                db,
                user_id,
                TaskFilter {
                    statuses: vec![TaskStatus::Todo, TaskStatus::InProgress],
                    due_before: Some(today + Duration::days(opts.due_within_days + 1)),
                    sort: Some(TaskSort::DueDate),
                    ..TaskFilter::default()
                },
                KeysetPagination {
                    limit: opts.tasks,
                    cursor: None,
                },
            )
            .await?
            .data,
        )
    };
    let goals_q = async {
        Ok::<_, ApiError>(
            goals::list_goals(
                db,
                user_id,
                GoalFilter {
                    statuses: vec![GoalStatus::Active],
                    ..GoalFilter::default()
                },
                Pagination {
                    limit: opts.goals,
                    cursor: None,
                },
            )
            .await?
            .data,
        )
    };
    let (user, found, found_notes, due, active) =
        tokio::try_join!(user_q, memories_q, notes_q, tasks_q, goals_q)?;

    let tz: Tz = user.timezone.parse().unwrap_or(chrono_tz::UTC);
    let now = Utc::now().with_timezone(&tz);
    let today = now.date_naive();
    let due: Vec<_> = due
        .into_iter()
        .filter(|t| {
            t.due_date
                .is_none_or(|d| d <= today + Duration::days(opts.due_within_days))
        })
        .collect();

    let mut system = agent.system_prompt.trim().to_string();
    system.push_str("\n\nAbout the user:\n");
    if let Some(name) = user.full_name.as_deref().filter(|n| !n.trim().is_empty()) {
        system.push_str(&format!("- Name: {name}\n"));
    }
    system.push_str(&clock_lines(&now));

    let mut facts = Facts {
        text: String::new(),
        left: opts.facts_tokens,
    };
    let mut citations = Vec::new();
    if let Some(items) = retrieved {
        let used = facts.section(
            "Relevant things you know (your memories, the user's notes and tasks)",
            items.iter().map(|r| {
                let text: String = r.text.chars().take(400).collect();
                let kind = match r.source_type {
                    crate::rag::model::SourceType::Memories => "memory",
                    crate::rag::model::SourceType::Notes => "note",
                    crate::rag::model::SourceType::Tasks => "task",
                    crate::rag::model::SourceType::Documents => "document",
                };
                format!("{} ({kind} {})", text.replace('\n', " "), r.source_id)
            }),
        );
        citations = items[..used]
            .iter()
            .map(|r| Citation {
                source_type: r.source_type,
                source_id: r.source_id,
            })
            .collect();
    }
    facts.section(
        "Things you remember about the user",
        found
            .iter()
            .map(|m| format!("[{}] {}", m.memory_type.as_str(), m.content)),
    );
    facts.section(
        "Relevant notes",
        found_notes.iter().map(|n| {
            let text: String = crate::notes::plain_text::plain_text(&n.content)
                .chars()
                .take(400)
                .collect();
            format!("{} (note {}): {}", n.title, n.id, text.replace('\n', " "))
        }),
    );
    facts.section(
        "Open tasks due soon",
        due.iter().map(|t| {
            let when = match (t.due_date, t.due_time) {
                (Some(d), Some(tm)) => format!("due {d} {}", tm.format("%H:%M")),
                (Some(d), None) => format!("due {d}"),
                _ => String::new(),
            };
            format!(
                "{} ({when}, {}, {}, task {})",
                t.title,
                t.priority.as_str(),
                t.status.as_str(),
                t.id
            )
        }),
    );
    facts.section(
        "Active goals",
        active.iter().map(|g| {
            format!(
                "{} ({}, {}% done, goal {})",
                g.title,
                g.timeframe.as_str(),
                g.progress,
                g.id
            )
        }),
    );
    system.push_str(&facts.text);

    let system = ChatMessage::system(system);
    let user_msg = ChatMessage::user(new_message);
    let mut left = opts
        .budget_tokens
        .saturating_sub(tokens(&system) + tokens(&user_msg));
    // Newest history first until the budget is spent, then back in order.
    let mut kept: Vec<ChatMessage> = Vec::new();
    for m in history.iter().rev() {
        if m.role == Role::System {
            continue;
        }
        let t = tokens(m);
        if t > left {
            break;
        }
        left -= t;
        kept.push(m.clone());
    }
    kept.reverse();
    // A history must not start with tool results whose call was trimmed away.
    while kept.first().is_some_and(|m| m.role == Role::Tool) {
        kept.remove(0);
    }
    let mut out = Vec::with_capacity(kept.len() + 2);
    out.push(system);
    out.extend(kept);
    out.push(user_msg);
    Ok((out, citations))
}
