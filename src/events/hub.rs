//! One `LISTEN cadence_events` connection per instance, fanning events out to the
//! WebSockets of users connected to this instance.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use dashmap::DashMap;
use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{CHANNEL, Event, repo};

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    db: PgPool,
    subscribers: DashMap<Uuid, broadcast::Sender<Arc<Event>>>,
    /// Highest event id this instance has delivered, to catch up after a lost connection.
    last_id: AtomicI64,
    capacity: usize,
}

impl Hub {
    /// `capacity` bounds how many undelivered events one user's subscribers may lag behind
    /// before they are dropped.
    pub fn new(db: PgPool, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                subscribers: DashMap::new(),
                last_id: AtomicI64::new(0),
                capacity: capacity.max(1),
            }),
        }
    }

    pub fn subscribe(&self, user_id: Uuid) -> broadcast::Receiver<Arc<Event>> {
        self.inner
            .subscribers
            .entry(user_id)
            .or_insert_with(|| broadcast::channel(self.inner.capacity).0)
            .subscribe()
    }

    /// Users with at least one live subscriber on this instance.
    pub fn connected_users(&self) -> usize {
        self.inner
            .subscribers
            .iter()
            .filter(|e| e.receiver_count() > 0)
            .count()
    }

    fn deliver(&self, event: Event) {
        self.inner.last_id.fetch_max(event.id, Ordering::Relaxed);
        let user = event.user_id;
        if let Some(tx) = self.inner.subscribers.get(&user)
            && tx.send(Arc::new(event)).is_err()
        {
            drop(tx);
            self.inner
                .subscribers
                .remove_if(&user, |_, tx| tx.receiver_count() == 0);
        }
    }

    fn wants(&self, user: &Uuid) -> bool {
        self.inner
            .subscribers
            .get(user)
            .is_some_and(|tx| tx.receiver_count() > 0)
    }

    /// Run the listener until `shutdown`; reconnects (and catches up) when the database
    /// connection drops.
    pub fn start(&self, shutdown: CancellationToken) {
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    result = hub.listen_once(&shutdown) => {
                        if let Err(e) = result {
                            tracing::warn!(error = %e, "event listener lost its connection; reconnecting");
                        }
                    }
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        });
    }

    async fn listen_once(&self, shutdown: &CancellationToken) -> sqlx::Result<()> {
        let mut listener = PgListener::connect_with(&self.inner.db).await?;
        listener.listen(CHANNEL).await?;
        self.catch_up().await?;
        loop {
            let notification = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                n = listener.try_recv() => n?,
            };
            let Some(n) = notification else {
                // Connection lost: notifications may have been missed.
                return Err(sqlx::Error::Protocol("listener connection closed".into()));
            };
            let Some((id, user)) = parse(n.payload()) else {
                continue;
            };
            if !self.wants(&user) {
                self.inner.last_id.fetch_max(id, Ordering::Relaxed);
                continue;
            }
            match repo::find(&self.inner.db, id).await {
                Ok(Some(event)) => self.deliver(event),
                Ok(None) => {} // already swept
                Err(e) => tracing::warn!(error = %e, event_id = id, "could not load event"),
            }
        }
    }

    /// After (re)connecting, deliver what connected users may have missed meanwhile.
    async fn catch_up(&self) -> sqlx::Result<()> {
        let since = self.inner.last_id.load(Ordering::Relaxed);
        if since == 0 {
            return Ok(());
        }
        let users: Vec<Uuid> = self
            .inner
            .subscribers
            .iter()
            .filter(|e| e.receiver_count() > 0)
            .map(|e| *e.key())
            .collect();
        for user in users {
            for event in repo::since(&self.inner.db, user, since, 1000).await? {
                self.deliver(event);
            }
        }
        Ok(())
    }
}

fn parse(payload: &str) -> Option<(i64, Uuid)> {
    let (id, user) = payload.split_once(':')?;
    Some((id.parse().ok()?, user.parse().ok()?))
}
