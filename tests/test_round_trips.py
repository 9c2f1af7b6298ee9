"""Round trips are counted at the sandbox: one request per operator run with a cached token,
``ceil(N / 500)`` requests for a fan-out to N recipients, in order, nothing sent twice."""

from __future__ import annotations

import math

from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.messaging.wire import MAX_RECIPIENTS_PER_REQUEST
from fxiaoke_provider.operators.fxiaoke import (
    MESSAGE_IDS_XCOM_KEY,
    TRACE_IDS_XCOM_KEY,
    FxiaokeSendMessageOperator,
)
from fxiaoke_provider.sandbox import SandboxGateway
from tests.support import context_with_ti


def test_operator_run_with_cached_token_is_one_request(sandbox: SandboxGateway, use_connection) -> None:
    use_connection(sandbox)
    FxiaokeHook().get_token()  # an earlier task on this machine left the token in the file cache
    before = sandbox.stats()
    runs = 3
    for i in range(runs):  # a new operator (and hook) per run, as in separate task processes
        context, ti = context_with_ti()
        trace_id = FxiaokeSendMessageOperator(
            task_id=f"notify_{i}", to_users=["1000"], message=f"run {i} done"
        ).execute(context)
        assert ti.pushed == [(TRACE_IDS_XCOM_KEY, [trace_id]), (MESSAGE_IDS_XCOM_KEY, [None])]
    after = sandbox.stats()
    assert after["requests"] - before["requests"] == runs
    assert after["token_calls"] - before["token_calls"] == 0
    assert len(sandbox.messages()) == runs


def test_fan_out_of_5000_is_ceil_n_over_500_requests(sandbox: SandboxGateway, use_connection) -> None:
    use_connection(sandbox)
    hook = FxiaokeHook()
    hook.get_token()
    recipients = [str(1000 + i) for i in range(5_000)]
    before = sandbox.stats()["requests"]
    answers = hook.send_message(recipients, "Quarterly results are out.")
    expected = math.ceil(len(recipients) / MAX_RECIPIENTS_PER_REQUEST)
    assert expected == 10
    assert sandbox.stats()["requests"] - before == expected
    assert len(answers) == expected
    sent = sandbox.messages()
    assert len(sent) == expected
    assert [user for message in sent for user in message["toUser"]] == recipients  # in order, once each


def test_each_person_once_across_batches(sandbox: SandboxGateway, use_connection, caplog) -> None:
    """800 ids listed, 200 of them a second time (some would land in another batch): 600 deliveries."""
    use_connection(sandbox)
    unique = [str(1000 + i) for i in range(600)]
    listed = unique + unique[::3]
    with caplog.at_level("INFO", logger="fxiaoke_provider.messaging.service"):
        answers = FxiaokeHook().send_message(listed, "Once each, please.")
    delivered = [user for m in sandbox.messages() for user in m["toUser"]]
    dropped = len(listed) - len(delivered)
    print(f"\n{len(listed)} ids listed, {dropped} repeats dropped: ", end="")
    print(f"{len(delivered)} deliveries in {len(answers)} requests")
    assert delivered == unique  # first occurrence wins, order kept
    assert [len(m["toUser"]) for m in sandbox.messages()] == [500, 100]
    assert "Dropped 200 repeated recipient id(s)" in caplog.text
