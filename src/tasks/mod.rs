//! Tasks: a status machine (`done` stamps `completed_at`), priorities, due dates, subtasks
//! (`parent_id`), links to a goal and a note, and where the task came from (`source`).

pub mod model;
pub mod reminders;
pub mod replies;
pub mod repo;
pub mod routes;
pub mod service;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list_tasks, routes::create_task))
        .routes(routes!(
            routes::get_task,
            routes::update_task,
            routes::put_task,
            routes::delete_task
        ))
        .routes(routes!(routes::set_task_status))
        .routes(routes!(routes::snooze_task))
}
