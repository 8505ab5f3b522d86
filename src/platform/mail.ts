import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import nodemailer, { type Transporter } from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import type { Db } from './db.ts';

export const MERCHANT_HEADER = 'X-SwipeSavvy-Merchant';

export type Mailer = Transporter;

export function createMailer(smtpUrl: string): Mailer {
  const url = new URL(smtpUrl);
  url.searchParams.set('pool', 'true');
  return nodemailer.createTransport(url.toString());
}

export type LocalMailbox = { port: number; url: string; close(): Promise<void> };

/**
 * The embedded default's mailbox: a real SMTP server on 127.0.0.1 that parses every message it
 * receives and stores it, so the API and dashboard can list what the platform sent.
 */
export async function startLocalMailbox(
  db: Db,
  port: number,
  maxBytes = 10 * 1024 * 1024,
): Promise<LocalMailbox> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    banner: 'SwipeSavvy local mailbox',
    size: maxBytes,
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then(async (mail) => {
          const merchant = mail.headers.get(MERCHANT_HEADER.toLowerCase());
          const headers = Object.fromEntries([...mail.headers.entries()].map(([k, v]) => [k, String(v)]));
          const size = (mail.text?.length ?? 0) + (typeof mail.html === 'string' ? mail.html.length : 0);
          await db.query(
            `INSERT INTO mailbox_messages
               (merchant_id, message_id, mail_from, rcpt_to, subject, text_body, html_body, headers, size_bytes)
             SELECT m.id, $2, $3, $4, $5, $6, $7, $8, $9
               FROM (SELECT $1::text AS merchant) x LEFT JOIN merchants m ON m.id::text = x.merchant`,
            [
              typeof merchant === 'string' ? merchant : null,
              mail.messageId ?? null,
              session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              session.envelope.rcptTo.map((r) => r.address),
              mail.subject ?? '',
              mail.text ?? '',
              typeof mail.html === 'string' ? mail.html : null,
              headers,
              size,
            ],
          );
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  server.on('error', () => {});
  const actual = (server.server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `smtp://127.0.0.1:${actual}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
