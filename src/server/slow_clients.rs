//! Dropping clients that send a request head too slowly (slowloris): a connection must deliver
//! each request's head, up to its blank line, within a deadline that starts when the connection
//! opens and again after each answer. Trickling one byte at a time does not extend it.
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Wraps an acceptor so that every connection it accepts has a head deadline.
pub struct HeadDeadline<A> {
    inner: A,
    limit: Duration,
}

impl<A> HeadDeadline<A> {
    pub fn new(inner: A, limit: Duration) -> Self {
        Self { inner, limit }
    }
}

impl<A: Acceptor> Acceptor for HeadDeadline<A> {
    type Io = DeadlineIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        Ok((DeadlineIo::new(io, self.limit), local, remote, scheme))
    }
}

const END_OF_HEAD: &[u8; 4] = b"\r\n\r\n";

/// A connection whose reads fail once the current request head is overdue.
pub struct DeadlineIo<T> {
    inner: T,
    limit: Duration,
    /// Armed while a request head is expected.
    deadline: Option<Pin<Box<Sleep>>>,
    /// How much of `END_OF_HEAD` the bytes read so far end with.
    matched: usize,
}

impl<T> DeadlineIo<T> {
    fn new(inner: T, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            deadline: Some(Box::pin(tokio::time::sleep(limit))),
            matched: 0,
        }
    }

    fn scan(&mut self, bytes: &[u8]) {
        if self.deadline.is_none() {
            return;
        }
        for &byte in bytes {
            self.matched = match byte {
                b if b == END_OF_HEAD[self.matched] => self.matched + 1,
                b'\r' => 1,
                _ => 0,
            };
            if self.matched == END_OF_HEAD.len() {
                self.deadline = None;
                self.matched = 0;
                return;
            }
        }
    }

    fn overdue() -> io::Error {
        tracing::info!("closing a connection: no complete request head in time");
        io::Error::new(io::ErrorKind::TimedOut, "request head not received in time")
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for DeadlineIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.deadline.as_ref().is_some_and(|d| d.is_elapsed()) {
                    return Poll::Ready(Err(Self::overdue()));
                }
                let fresh = buf.filled()[before..].to_vec();
                this.scan(&fresh);
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let overdue = this
                    .deadline
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if overdue {
                    Poll::Ready(Err(Self::overdue()))
                } else {
                    Poll::Pending
                }
            }
            ready => ready,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for DeadlineIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) && this.deadline.is_none() {
            // An answer is going out: the next request's head is due within the limit.
            this.deadline = Some(Box::pin(tokio::time::sleep(this.limit)));
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn read_all(io: &mut DeadlineIo<tokio::io::DuplexStream>) -> io::Result<Vec<u8>> {
        let mut seen = vec![];
        let mut buf = [0u8; 64];
        loop {
            match io.read(&mut buf).await? {
                0 => return Ok(seen),
                n => seen.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_trickled_past_the_deadline_is_cut_off() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut io = DeadlineIo::new(server, Duration::from_secs(10));
        let trickle = tokio::spawn(async move {
            for byte in b"POST /login HTTP/1.1\r\nHost: x\r\n" {
                if client.write_all(&[*byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let err = read_all(&mut io).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        trickle.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_whole_head_in_time_disarms_the_deadline_until_the_answer() {
        let (mut client, server) = tokio::io::duplex(256);
        let mut io = DeadlineIo::new(server, Duration::from_secs(10));
        client
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = io.read(&mut buf).await.unwrap();
        assert!(n > 0 && io.deadline.is_none());
        // A slow body after the head is not this deadline's business.
        tokio::time::sleep(Duration::from_secs(30)).await;
        client.write_all(b"x").await.unwrap();
        assert_eq!(io.read(&mut buf).await.unwrap(), 1);
        // Answering re-arms it for the next request on this connection.
        io.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        assert!(io.deadline.is_some());
    }
}
