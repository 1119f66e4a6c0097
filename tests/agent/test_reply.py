"""Reading one model turn: native calls, calls written as text, answers, and replies that are neither."""

from __future__ import annotations

import pytest

from sidekick.agent.chat import ModelTurn, ToolCall
from sidekick.agent.reply import RunSoFar, announced_tool, claimed_tool, echoes, read_reply

NAMES = ["find_user_by_name", "update_user_address", "get_user"]


def test_native_calls_win_over_text_and_say_so() -> None:
    turn = ModelTurn(content="Checking.", tool_calls=[ToolCall("c1", "get_user", '{"user_id": "u"}')])
    reply = read_reply(turn, NAMES)
    assert reply.path == "native" and reply.text == "Checking." and reply.problem is None


def test_text_calls_are_read_with_the_text_parser() -> None:
    reply = read_reply(ModelTurn(content='{"name": "get_user", "arguments": {"user_id": "u"}}'), NAMES)
    assert reply.path == "text" and [c.name for c in reply.calls] == ["get_user"]


@pytest.mark.parametrize("content, text", [
    ('{"answer": "Ann has 120.0 in credit."}', "Ann has 120.0 in credit."),
    (' {"answer": "Line one\\nline two"}\n', "Line one\nline two"),
    ('{"answer": "x", "confidence": 1}', None),  # more than the answer: not the answer form
    ('{"answer": "  "}', None),
    ('{"answer": 41}', None),
    ('{"answer": "x"', None),
])
def test_a_reply_that_is_only_an_answer_object_is_that_answer(content: str, text: str | None) -> None:
    reply = read_reply(ModelTurn(content=content), NAMES)
    assert reply.problem is None and reply.calls == []
    assert reply.text == (text if text is not None else content.strip())


def test_an_answer_object_is_read_like_any_answer() -> None:
    reply = read_reply(ModelTurn(content='{"answer": "I will call the `get_user` function."}'), NAMES)
    assert reply.problem == "announced_call" and reply.text == "I will call the `get_user` function."


@pytest.mark.parametrize("turn, problem", [
    (ModelTurn(content=""), "no_answer"),
    (ModelTurn(content=None), "no_answer"),
    (ModelTurn(content="The answer is", finish_reason="length"), "max_tokens"),
    (ModelTurn(content='{"name": "get_usr", "arguments": {}}'), "malformed_call"),
    (ModelTurn(content="<tool_response>{}</tool_response>"), "invented_tool_result"),
    (ModelTurn(content="I will call the `get_user` function with your id."), "announced_call"),
])
def test_replies_that_are_neither_call_nor_answer_name_their_problem(turn: ModelTurn, problem: str) -> None:
    reply = read_reply(turn, NAMES)
    assert reply.problem == problem and reply.calls == [] and reply.detail


def test_a_call_like_reply_cut_off_at_the_limit_says_both() -> None:
    reply = read_reply(ModelTurn(content='{"name": "get_user", "arguments": {"user_id": 1 +', finish_reason="length"),
                       NAMES)
    assert reply.problem == "malformed_call" and "cut off" in reply.detail


@pytest.mark.parametrize("text, name", [
    ("To resolve this issue, I need to find the user. I will call the `find_user_by_name` function.",
     "find_user_by_name"),
    ("Let me use update_user_address now", "update_user_address"),
    ("I'll look up your account with get_user.", "get_user"),
    ("I called get_user and your credit is 62.25.", None),
    ("I will help. The get_user tool is not needed.", None),
    ("Your credit is 62.25.", None),
    ("To pay it, you need to call the `update_user_address` function with your id.", "update_user_address"),
    ("You can use get_user to see your account.", "get_user"),
    ("To get your balance, you should call the `get_user` function with your id.", "get_user"),
    ('To get the prices of p_tent and p_stove, call the "get_user" function with their ids.', "get_user"),
    ("Call get_user with u_1 to see it.", "get_user"),
    ("Please use find_user_by_name.", "find_user_by_name"),
    ("To see your credit, you can call the `get_user` function with the id u_1.", "get_user"),
    ("The tools you can call: get_user, find_user_by_name.", None),
])
def test_an_announced_call_is_one_the_reply_says_it_is_about_to_make(text: str, name: str | None) -> None:
    assert announced_tool(text, NAMES) == name


@pytest.mark.parametrize("text, called, claimed", [
    ("To find you, I called the `find_user_by_name` function with your name.", set(), "find_user_by_name"),
    ("I've used get_user and your credit is 62.25.", set(), "get_user"),
    ("I called get_user and your credit is 62.25.", {"get_user"}, None),
    ("You called get_user before.", set(), None),
])
def test_a_call_the_reply_tells_of_but_the_run_never_made_is_claimed(text: str, called: set[str],
                                                                     claimed: str | None) -> None:
    assert claimed_tool(text, NAMES, called) == claimed
    reply = read_reply(ModelTurn(content=text), NAMES, RunSoFar(called=called))
    assert (reply.problem == "announced_call" and reply.tool == claimed) is (claimed is not None)


def test_a_tool_response_block_that_quotes_a_real_result_is_not_an_invention() -> None:
    quoted = "<tool_response>\nError: no user with id 'u_1'\n</tool_response>\nI will call get_user with u_jonah."
    reply = read_reply(ModelTurn(content=quoted), NAMES, RunSoFar(results=["Error: no user with id 'u_1'"]))
    assert reply.problem == "announced_call" and reply.tool == "get_user"
    invented = "<tool_response>\n{\"credit\": 5}\n</tool_response>\nYou have 5."
    assert read_reply(ModelTurn(content=invented), NAMES, RunSoFar(results=["Error: no user"])).problem == "invented_tool_result"


@pytest.mark.parametrize("text, echoed", [
    ("I'm user u_mira. What is my store credit now?", True),
    ("  i'm user u_mira.   What is my store credit now? ", True),
    ("I'm user u_mira, what is my store credit now?", True),
    ("Your store credit is now 165.00.", False),
    ("I'm user u_mira. What is my store credit now? It is 165.00, after the refund of order o_1002.", False),
])
def test_a_reply_that_only_repeats_the_task_is_no_answer(text: str, echoed: bool) -> None:
    reply = read_reply(ModelTurn(content=text), NAMES, RunSoFar(task="I'm user u_mira. What is my store credit now?"))
    assert (reply.problem == "echoed_task") is echoed
    assert read_reply(ModelTurn(content=text), NAMES).problem is None  # no task given: nothing to compare


def test_a_long_task_is_compared_cheaply() -> None:
    task = "digits " + "0123456789" * 10_000
    assert read_reply(ModelTurn(content=task), NAMES, RunSoFar(task=task)).problem == "echoed_task"
    assert read_reply(ModelTurn(content=task[:-1] + "x"), NAMES, RunSoFar(task=task)).problem is None


@pytest.mark.parametrize("text, follows", [
    ("To fix it, use the right id. Here's the corrected call:\n\nThis should return your slots.", True),
    ("The correct call should be:\n\nThis pays the invoice.", True),
    ("Let's try again with the correct appointment id.", True),
    ("The call went through: your appointment is at 10:30.", False),
    ("Here is your answer: 42.", False),
])
def test_a_reply_that_says_a_call_follows_but_holds_none_is_an_announced_call(text: str, follows: bool) -> None:
    reply = read_reply(ModelTurn(content=text), NAMES)
    assert (reply.problem == "announced_call") is follows and reply.calls == []


def test_a_call_copied_from_a_corrections_example_is_not_run() -> None:
    copied = 'To call a tool, reply with only the call, for example {"name": "get_user", "arguments": {"user_id": "…"}}'
    reply = read_reply(ModelTurn(content=copied), NAMES)
    assert reply.calls == [] and reply.problem == "malformed_call" and reply.tool == "get_user"
    assert "placeholder" in reply.detail
    real = read_reply(ModelTurn(content='{"name": "get_user", "arguments": {"user_id": "u_1…"}}'), NAMES)
    assert [c.name for c in real.calls] == ["get_user"]


REPLY_NAMES = NAMES + ["place_order", "cancel_order", "search_products", "calculate"]


@pytest.mark.parametrize("text, next_step", [
    ("To continue, I'll need to place a new order for the stove.", True),
    ("Now that I have your id, I can proceed to update your address.", True),
    ("I can't cancel a shipped order.", False),
    ("I cannot cancel it, it has shipped.", False),
    ("I can help you with orders, including placing and cancelling them.", False),
    ("Let me know if you need anything else.", False),
    ("You need to cancel it within 30 days.", False),
    ("I'll be happy to help with anything else.", False),
    ("I'll try searching for it again.", True),
    ("I can help you with placing orders.", False),
])
def test_a_reply_that_says_it_is_about_to_do_what_a_tool_does_is_an_announced_call(text: str, next_step: bool) -> None:
    reply = read_reply(ModelTurn(content=text), REPLY_NAMES)
    assert (reply.problem == "announced_call") is next_step


RESULTS = ['{"id": "p_tent", "price": 189.0}', '{"id": "p_stove", "price": 45.0}']
ASKED = "What do p_tent and p_stove cost?"


@pytest.mark.parametrize("text, narrated", [
    ('To find the prices of p_tent and p_stove, I called the "get_user" function twice. The responses gave the '
     'prices.', "get_user"),
    ("I called get_user: p_tent costs 189.0.", None),
    ("The tent costs $189 and the stove $45.", None),
    ("Sums need the `calculate` tool.", "calculate"),
    ("No need to calculate: it is 234 in all.", None),
])
def test_an_answer_that_tells_of_a_tool_but_states_no_result_is_narrated(text: str, narrated: str | None) -> None:
    reply = read_reply(ModelTurn(content=text), REPLY_NAMES, RunSoFar(ASKED, RESULTS, called={"get_user"}))
    assert reply.tool == narrated and (reply.problem == "narrated") is (narrated is not None)
    assert read_reply(ModelTurn(content=text), REPLY_NAMES, RunSoFar(ASKED, called={"get_user"})).problem is None  # no results yet


def test_an_answer_that_reports_a_tools_error_is_not_narrated() -> None:
    seen = RunSoFar("Echo p2004.", ["Error: get_user failed on the host: no p2004_x"], called={"get_user"})
    assert read_reply(ModelTurn(content="get_user failed: no p2004_x."), REPLY_NAMES, seen).problem is None


@pytest.mark.parametrize("text, step", [
    ("To resolve this, I'll need to check if the order exists. Let's proceed with that.",
     "I'll need to check if the order exists"),
    ("Thank you, I will translate 'thank you' into Spanish.", "I will translate 'thank you' into Spanish"),
    ("To get the total, we need to follow these steps: 1. Find the price of each item.",
     "we need to follow these steps"),
    ("I'll be happy to help with anything else.", None),
    ("Let me know if you need anything else.", None),
    ("The tent costs $189. I'll keep an eye on the stove.", None),  # states a result
    ("You need to cancel it within 30 days.", None),  # tells the user: an answer
    ("To find the order with id 'o_2', I'll call the `find_order` function.", "I'll call the `find_order` function"),
])
def test_a_reply_that_only_says_what_it_will_do_is_an_undone_step(text: str, step: str | None) -> None:
    failed = "Error: no order with id 'o_2'"  # what an error names is nothing learned
    reply = read_reply(ModelTurn(content=text), REPLY_NAMES, RunSoFar(ASKED, [*RESULTS, failed]))
    assert (reply.problem == "undone_step") is (step is not None) and reply.calls == []
    if step is not None:
        assert f'("{step}")' in reply.detail


def test_an_answer_about_ids_of_the_task_no_call_looked_at_is_unchecked() -> None:
    task = "Tell me the status of orders o_1001, o_1003 and o_1010."
    seen = RunSoFar(task, ['{"id": "o_1001", "status": "delivered"}'], arguments=['{"order_id": "o_1001"}'])
    reply = read_reply(ModelTurn(content="Orders o_1001, o_1003 and o_1010 are delivered."), REPLY_NAMES, seen)
    assert reply.problem == "unchecked_ids" and reply.detail == "o_1003, o_1010"
    looked_at = RunSoFar(task, ['{"status": "delivered"}', '{"status": "shipped"}', "Error: no order o_1010"],
                         arguments=['{"order_id": "o_1001"}', '{"order_id": "o_1003"}', '{"order_id": "o_1010"}'])
    answer = "o_1001 is delivered, o_1003 shipped, and o_1010 does not exist."
    assert read_reply(ModelTurn(content=answer), REPLY_NAMES, looked_at).problem is None
    assert read_reply(ModelTurn(content=answer), REPLY_NAMES, RunSoFar(task)).problem is None  # no tool used yet
    powers = RunSoFar("What is 2 to the 10th, in 5km steps?", ["1024"], arguments=['{"expression": "2**10"}'])
    assert read_reply(ModelTurn(content="2 to the 10th is 1024, in 5km steps."), REPLY_NAMES, powers).problem is None


@pytest.mark.parametrize("text, asked", [
    ("I need to know the customer's email address to find the order.", "I need to know the customer's email address "
                                                                        "to find the order"),
    ("Could you please provide the full name and zip code?", "Could you please provide the full name and zip code"),
    ("I'm sorry, but I don't have enough information to answer. Please give me your order id.",
     "don't have enough information to answer"),
    ("Your order o_1002 is pending. Could you tell me which item to change?", None),  # a result, then a question
    ("Your order is pending. Please let me know if you need anything else.", None),  # a closing offer
    ("The capital of France is Paris.", None),
])
def test_a_would_be_answer_that_asks_the_user_for_more_to_go_on_asked_the_user(text: str, asked: str | None) -> None:
    seen = RunSoFar("Change my order.", ['{"id": "o_1002", "status": "pending"}'])
    reply = read_reply(ModelTurn(content=text), REPLY_NAMES, seen)
    assert reply.problem == ("asked_user" if asked else None) and reply.detail == (asked or "")
    assert read_reply(ModelTurn(content=text), [], seen).problem is None  # no tool could find it


CHANGERS = ["get_order", "update_user_address", "update_order_address", "cancel_order", "place_order", "pay_invoice"]


@pytest.mark.parametrize("text, succeeded, results, claimed", [
    ("The address on your account has been updated to 5 Lake Shore Drive.", {"get_order"}, [],
     "says it was updated, but no call of update_user_address or update_order_address has worked in this run"),
    ("I've cancelled order o_1 for you.", set(), ['{"status": "pending"}'],
     "says it was cancelled, but no call of cancel_order has worked in this run"),
    ("Your order was successfully placed.", set(), [], "says it was placed, but no call of place_order has worked"
                                                       " in this run"),
    ("The invoice has been paid.", set(), [], "says it was paid, but no call of pay_invoice has worked in this run"),
    ("The address has been updated.", {"update_user_address"}, [], None),  # a call of that verb worked
    ("Your order o_1 is cancelled.", {"get_order"}, ['{"status": "cancelled"}'], None),  # a state read
    ("The tent costs 189.0 and is stocked in Denver.", {"get_order"}, ["{}"], None),
])
def test_an_answer_telling_of_a_change_no_call_made_claimed_it(text: str, succeeded: set[str], results: list[str],
                                                               claimed: str | None) -> None:
    reply = read_reply(ModelTurn(content=text), CHANGERS, RunSoFar("Do it.", results, succeeded=succeeded))
    assert reply.problem == ("claimed_change" if claimed else None) and reply.detail == (claimed or "")


@pytest.mark.parametrize("text, gave_up", [
    ("The camp stove is not available at this time. Please try again later.", True),
    ("The search_products service is temporarily unavailable (503). Please try again.", True),
    ("The tent costs 189.0; the stove could not be looked up.", False),  # answers from a result that worked
])
def test_a_reply_that_gives_up_at_an_error_saying_it_is_temporary_is_sent_back(text: str, gave_up: bool) -> None:
    error = "Error: the search_products service is temporarily unavailable (503). Please try again.\n(a note)"
    seen = RunSoFar("Tent and stove prices?", ['{"price": 189.0}', error], last_result=error)
    reply = read_reply(ModelTurn(content=text), ["search_products"], seen)
    assert reply.problem == ("gave_up_at_transient_error" if gave_up else None)
    if gave_up:
        assert reply.detail == "the search_products service is temporarily unavailable (503). Please try again."
    for failed in ["Error: no product p_x", "Error: no product p_x\n(This exact call has failed before with the same "
                   "error. Unless the error says it is temporary, …)"]:  # the loop's own note says nothing of it
        permanent = RunSoFar("Stove price?", [failed], last_result=failed)
        assert read_reply(ModelTurn(content=text), ["search_products"], permanent).problem != "gave_up_at_transient_error"


@pytest.mark.parametrize("text, last_result, gave_up", [
    ("I'm sorry, but I can't assist with that.", '{"status": "pending"}', True),
    ("Sorry, I cannot help with that.", "41", True),
    ("I'm sorry, but I can't assist with that.", "Error: no order with id 'o_1'", False),  # gave up at an error
    ("I'm sorry, but I can't assist with that.", None, False),  # no tool ran: a refusal may be right
    ("I'm sorry, your order has shipped, so I can't cancel it.", '{"status": "shipped"}', True),
    ("Your order has shipped, so it cannot be cancelled.", '{"status": "shipped"}', False),
    ("I apologize, but I did not receive any response from the tool. Could you call it again?", "{}", True),
    ("I'm sorry, but I didn't receive a response from the shop.", '{"status": "pending"}', True),
    ("Sorry for the wait: your order is pending.", '{"status": "pending"}', False),
])
def test_a_bare_refusal_right_after_a_call_that_worked_gave_up(text: str, last_result: str | None,
                                                                gave_up: bool) -> None:
    reply = read_reply(ModelTurn(content=text), NAMES, RunSoFar(results=[last_result or ""], last_result=last_result))
    assert (reply.problem == "gave_up") is gave_up


@pytest.mark.parametrize("text, gave_up", [
    ("I'm sorry, but I can't assist with that.", True),
    ("I apologize, but I can't help you with this request.", True),
    ("I'm sorry, your order has shipped, so I can't cancel it.", False),  # it says why: an answer
    ("Sorry, I cannot cancel a shipped order.", False),
])
def test_a_refusal_without_a_reason_right_after_an_error_gave_up_at_it(text: str, gave_up: bool) -> None:
    error = "Error: invalid arguments for get_order: unexpected status\n(This exact call has failed before…)"
    reply = read_reply(ModelTurn(content=text), NAMES, RunSoFar(results=[error], last_result=error))
    assert (reply.problem == "gave_up_at_error") is gave_up
    if gave_up:
        assert reply.detail == "invalid arguments for get_order: unexpected status"


def test_a_reply_that_quotes_a_result_is_read_against_the_run_without_the_quote() -> None:
    error = "Error: no order with id 'o_1'"
    quoted = f"<tool_response>\n{error}\n</tool_response>\nI'm sorry, but I can't assist with that."
    reply = read_reply(ModelTurn(content=quoted), NAMES, RunSoFar(results=[error], last_result=error))
    assert reply.problem == "gave_up_at_error" and reply.text == "I'm sorry, but I can't assist with that."


def test_the_error_a_refusal_gave_up_at_is_quoted_short() -> None:
    error = "Error: " + "x" * 10_000
    reply = read_reply(ModelTurn(content="I'm sorry, but I can't help with that."), NAMES,
                       RunSoFar(results=[error], last_result=error))
    assert reply.problem == "gave_up_at_error" and len(reply.detail) < 400


def test_a_reply_echoes_a_note_it_opens_as_or_quotes() -> None:
    note = "Your last reply was empty. Answer the task now in plain words, or call a tool if you still need one."
    assert echoes("Your last reply was empty. Please provide the task or call a tool.", note)
    assert echoes("Answer the task now in plain words, or call a tool if you still need one.", note)
    assert echoes(note + " Sorry.", note)
    assert not echoes("Your order o_1 is pending.", note) and not echoes("Your last", note)
    quoting = 'Your last reply says what it will do ("I\'ll call the `find_order` function with the id o_2") but does none.'
    assert not echoes("I'll call the `find_order` function with the id o_2", quoting)  # its own words again


def test_a_reply_stating_what_a_result_said_is_no_next_step() -> None:
    text = "To answer, I need to find the user's store credit. I found the user: the store credit is 62.25."
    seen = RunSoFar("How much store credit do I have?", ['{"id": "u_jonah", "credit": 62.25}'])
    assert read_reply(ModelTurn(content=text), NAMES, seen).problem is None
    assert read_reply(ModelTurn(content=text), NAMES, RunSoFar("How much store credit do I have?")).problem == \
        "announced_call"  # nothing learned: a step it did not take
