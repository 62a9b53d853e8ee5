//! Connections: how many the server holds, from whom, and for how long.
//!
//! Every accepted TCP connection passes [`Gate`] (an `axum_server`
//! acceptor, beneath TLS) before anything else is done with it:
//!
//! - **A cap**, in all and per client address: past it the connection is
//!   closed at once, so that no one address, with or without a password,
//!   can hold every connection the server will take.
//! - **An idle timeout** for HTTP/1.1 and HTTP/2 alike: a connection on
//!   which no request is being handled and no byte has moved for the
//!   timeout is closed ([`Guarded`]). hyper bounds an idle HTTP/1.1
//!   connection by its header-read timeout; HTTP/2 connections answer
//!   pings and would otherwise stay open for ever.

use axum_server::accept::Accept;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// The connection limits.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Connections held at once, in all.
    pub max: usize,
    /// Connections held at once from one client address.
    pub per_address: usize,
    /// A connection with no request in hand and no traffic for this long
    /// is closed.
    pub idle: Duration,
}

/// How many connections are held, in all and by address.
#[derive(Debug, Default)]
struct Held {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// The acceptor: admits a connection within the caps and guards it.
#[derive(Clone, Debug)]
pub struct Gate {
    limits: ConnLimits,
    held: Arc<Mutex<Held>>,
}

impl Gate {
    /// A gate with these limits.
    pub fn new(limits: ConnLimits) -> Self {
        Gate {
            limits,
            held: Arc::new(Mutex::new(Held::default())),
        }
    }

    /// Count a connection from `address` in, or say which cap it meets.
    fn admit(&self, address: IpAddr) -> Result<Slot, &'static str> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.total >= self.limits.max {
            return Err("the server holds --max-connections connections");
        }
        let mine = held.by_address.entry(address).or_insert(0);
        if *mine >= self.limits.per_address {
            return Err("this address holds --max-connections-per-address connections");
        }
        *mine += 1;
        held.total += 1;
        Ok(Slot {
            held: self.held.clone(),
            address,
        })
    }
}

/// One admitted connection's place in the counts, given back on drop.
#[derive(Debug)]
struct Slot {
    held: Arc<Mutex<Held>>,
    address: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.total = held.total.saturating_sub(1);
        if let Some(n) = held.by_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                held.by_address.remove(&self.address);
            }
        }
    }
}

impl<S: Send + 'static> Accept<TcpStream, S> for Gate {
    type Stream = Guarded<TcpStream>;
    type Service = Tracked<S>;
    type Future = std::future::Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let admitted = stream
            .peer_addr()
            .map_err(|e| e.to_string())
            .and_then(|peer| {
                self.admit(peer.ip())
                    .map_err(|why| format!("refused a connection from {}: {why}", peer.ip()))
            });
        std::future::ready(match admitted {
            Ok(slot) => {
                let _ = stream.set_nodelay(true);
                let state = Arc::new(ConnState {
                    handling: AtomicUsize::new(0),
                    sending: AtomicUsize::new(0),
                    since: Mutex::new(Instant::now()),
                });
                Ok((
                    Guarded {
                        inner: stream,
                        _slot: slot,
                        state: state.clone(),
                        idle: self.limits.idle,
                        moved: Instant::now(),
                        timer: Box::pin(tokio::time::sleep(self.limits.idle)),
                    },
                    Tracked {
                        inner: service,
                        state,
                    },
                ))
            }
            Err(why) => {
                eprintln!("vault serve: {why}");
                Err(io::Error::other(why))
            }
        })
    }
}

/// What a connection's stream and service share.
#[derive(Debug)]
struct ConnState {
    /// Requests whose handler runs.
    handling: AtomicUsize,
    /// Responses whose body is being sent.
    sending: AtomicUsize,
    /// When the last request or body finished (or the connection opened).
    since: Mutex<Instant>,
}

impl ConnState {
    fn finished(&self, counter: &AtomicUsize) {
        counter.fetch_sub(1, Ordering::AcqRel);
        *self.since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }
}

/// A connection's stream, closed when it is idle: no request in hand for
/// the idle timeout, whatever traffic (an HTTP/2 ping) moves; or a
/// response body that moved no byte for that long. A running handler
/// never makes it idle. Holds the connection's place in the counts.
#[derive(Debug)]
pub struct Guarded<S> {
    inner: S,
    _slot: Slot,
    state: Arc<ConnState>,
    idle: Duration,
    /// When a byte last moved.
    moved: Instant,
    /// When to look again whether the connection is idle.
    timer: Pin<Box<Sleep>>,
}

impl<S> Guarded<S> {
    /// Nothing moved: fail if the connection is idle (see the type), else
    /// set the timer for when it could be.
    fn check_idle(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        while self.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let next = if self.state.handling.load(Ordering::Acquire) > 0 {
                now + self.idle
            } else if self.state.sending.load(Ordering::Acquire) > 0 {
                self.moved + self.idle
            } else {
                *self.state.since.lock().unwrap_or_else(|p| p.into_inner()) + self.idle
            };
            if next <= now {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "idle connection closed (--idle-timeout)",
                ));
            }
            self.timer.as_mut().reset(next);
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.moved = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending => match self.check_idle(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.moved = Instant::now();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match self.check_idle(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A connection's service: counts its requests in hand (handler running,
/// then body being sent), so that the connection is not idle meanwhile.
#[derive(Clone, Debug)]
pub struct Tracked<S> {
    inner: S,
    state: Arc<ConnState>,
}

/// One request's handler, or body, in hand; counted out on drop (done,
/// or abandoned).
struct InHand {
    state: Arc<ConnState>,
    sending: bool,
}

impl InHand {
    fn new(state: &Arc<ConnState>, sending: bool) -> Self {
        let counter = if sending {
            &state.sending
        } else {
            &state.handling
        };
        counter.fetch_add(1, Ordering::AcqRel);
        InHand {
            state: state.clone(),
            sending,
        }
    }
}

impl Drop for InHand {
    fn drop(&mut self) {
        let counter = if self.sending {
            &self.state.sending
        } else {
            &self.state.handling
        };
        self.state.finished(counter);
    }
}

impl<S, R> tower::Service<R> for Tracked<S>
where
    S: tower::Service<R, Response = axum::response::Response>,
    S::Future: Send + 'static,
{
    type Response = axum::response::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let handling = InHand::new(&self.state, false);
        let state = self.state.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            // Sending starts before handling ends: no gap in which the
            // connection looks idle.
            let sending = InHand::new(&state, true);
            drop(handling);
            Ok(response.map(|body| {
                axum::body::Body::new(Sending {
                    inner: body,
                    _in_hand: sending,
                })
            }))
        })
    }
}

/// A response body in hand until it ends or is dropped.
struct Sending {
    inner: axum::body::Body,
    _in_hand: InHand,
}

impl http_body::Body for Sending {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_in_all_and_per_address_and_give_back_on_drop() {
        let gate = Gate::new(ConnLimits {
            max: 3,
            per_address: 2,
            idle: Duration::from_secs(1),
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = gate.admit(a).unwrap();
        let _a2 = gate.admit(a).unwrap();
        assert!(gate.admit(a).unwrap_err().contains("per-address"));
        let _b1 = gate.admit(b).unwrap();
        assert!(gate.admit(b).unwrap_err().contains("--max-connections "));
        drop(a1);
        let _b2 = gate.admit(b).unwrap();
        assert_eq!(gate.held.lock().unwrap().total, 3);
    }
}
