"""A short shift in a real store, and its report: what the report, PDF and vocabulary tests read.

``short_shift_report`` records a 4-minute shift as the booth would leave it: cash payments at one lane, the
drawer counted at the close; ``busy=True`` adds what a busier shift has (a free release and a manual lift,
a co-signed close short of cash, undelivered rows for two clouds), so every section of the report has lines.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from booth.config import Settings, settings_from_mapping
from booth.office.reports import Report, build_shift_report
from booth.store import Store, open_database
from booth.store.models import LaneException, OutboxRow, Person, Shift

LOT = "演示停车场"
T0 = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)  # 08:30 in the lot (Asia/Shanghai)


def report_settings(tmp_path: Path) -> Settings:
    return settings_from_mapping(
        {
            "park": {"name": LOT, "province": "苏"},
            "bolink": {"base_url": "sandbox", "union_id": "1", "park_id": "1", "ukey": "k", "local_id": "b"},
            "lanes": [{"id": "X1", "name": "东出口", "direction": "exit", "channel_id": "X1"}],
            "database": {"url": f"sqlite:///{tmp_path / 'report.sqlite'}"},
        }
    )


def short_shift_report(
    tmp_path: Path, *, minutes: int = 4, payments: int = 2, busy: bool = False, exceptions: int = 2
) -> Report:
    """A closed shift of ``minutes`` with ``payments`` cash payments of ¥6.00, and its report; ``busy``:
    with ``exceptions`` free releases and manual lifts (in turn), short of cash, co-signed, a backlog."""
    settings = report_settings(tmp_path)
    db = open_database(settings.database.url)
    try:
        store = Store(db)
        for n in range(payments):
            stay = store.create_stay(
                order_id=f"X1_{n}", plate=f"苏A1000{n}", plate_colour="blue", vehicle_class="small",
                lane_id="X1", entry_at=T0 - timedelta(hours=2),
            )  # fmt: skip
            store.record_payment(
                order_ref=stay.order_id, exit_order_id=None, channel="cash", pay_channel=None, trade_no=None,
                amount_fen=600, paid_at=T0 + timedelta(seconds=30 + n), lane_id="X1", operator="zhang",
                payer_id=None, raw=None,
            )  # fmt: skip
            store.close_stay(stay.id, lane_id="X1", exit_at=T0 + timedelta(minutes=1, seconds=n))
        expected = 50_000 + 600 * payments
        counted = expected - (300 if busy else 0)
        with db.sessionmaker.begin() as session:
            person = Person(
                username="zhang", display_name="张三", role="attendant", pin_hash="x", failed_pins=0,
                created_at=T0, created_by="test",
            )  # fmt: skip
            session.add(person)
            session.flush()
            notes = {10_000: 5, 100: (counted - 50_000) // 100}
            session.add(
                Shift(
                    attendant_id=person.id, state="closed", opened_at=T0, opening_float_fen=50_000,
                    closed_at=T0 + timedelta(minutes=minutes), counted_json=json.dumps(notes),
                    counted_fen=counted, expected_fen=expected, variance_fen=counted - expected,
                    cosigned_by="9001" if busy else None, handover_float_fen=50_000, close_note="",
                )
            )  # fmt: skip
            if busy:
                for n in range(exceptions):
                    kind, reason = ("free_release", "员工车辆") if n % 2 == 0 else ("manual_lift", "道闸故障")
                    session.add(
                        LaneException(
                            at=T0 + timedelta(minutes=2, seconds=n), kind=kind, lane_id="X1", stay_id=None,
                            exit_order_id=None, plate=f"苏B{n:05d}", due_fen=500, reason=reason, note="",
                            operator="zhang", approved_by="9001", photo=None,
                        )
                    )  # fmt: skip
                for n, (cloud, state) in enumerate((("tmall", "pending"), ("alipay", "dead"))):
                    session.add(
                        OutboxRow(
                            stay_id=None, cloud=cloud, kind="order.sync", payload_json="{}",
                            dedupe_key=f"test-{n}", state=state, attempts=1, next_attempt_at=T0,
                            last_error=None, created_at=T0 + timedelta(minutes=3),
                        )
                    )  # fmt: skip
        return build_shift_report(db, settings, 1)
    finally:
        db.close()
