"""Test data written straight with SQL (generate_series), not through the engine: fast and fixed."""

import psycopg

from bench.harness import db_url


def make_audience(db: str, n: int, list_name: str = "bench") -> int:
    """`n` UK mobile contacts (first names set) in one list; returns the list id."""
    with psycopg.connect(db_url(db), autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO contacts_contact (phone, first_name, last_name, language, timezone,
                country, attributes, opted_out, opted_out_source, opted_out_channel,
                created_at, updated_at)
            SELECT '+4479' || lpad(i::text, 8, '0'), 'Ann' || i, '', 'en', '', 'GB', '{}',
                   false, '', '', now(), now()
            FROM generate_series(1, %s) AS i
            """,
            (n,),
        )
        list_id = conn.execute(
            "INSERT INTO contacts_contactlist (name, description, created_at) "
            "VALUES (%s, '', now()) RETURNING id",
            (list_name,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO contacts_listmembership (added_at, contact_id, contact_list_id) "
            "SELECT now(), id, %s FROM contacts_contact",
            (list_id,),
        )
        conn.execute("VACUUM ANALYZE contacts_contact")
        conn.execute("VACUUM ANALYZE contacts_listmembership")
    return list_id


def reset_ledger(db: str) -> None:
    """Forget every campaign, message, event and webhook (contacts stay)."""
    with psycopg.connect(db_url(db), autocommit=True) as conn:
        conn.execute(
            "TRUNCATE campaigns_campaign, campaigns_message, campaigns_messageevent, "
            "campaigns_senderthrottle, infobip_webhookevent, infobip_pendingreport CASCADE"
        )
