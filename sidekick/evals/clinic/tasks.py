"""The clinic suite's tasks. Each lists its gold trajectory turn by turn; calls in one turn are independent.

The clinic's clock reads Monday 2025-03-10 09:00 (see data.NOW), so "Friday 14 March" is this week's Friday.
"""

from __future__ import annotations

from sidekick.evals.domain import c, task
from sidekick.evals.suite import Call


def book(patient: str, doctor: str, day: str, time: str) -> Call:
    """A gold booking."""
    return c("book_appointment", patient_id=patient, doctor_id=doctor, date=day, time=time)


TASKS = [
    # One step.
    task("single-pay", "single", "I'm patient pt_marek. Please pay invoice inv_3005 from my account balance. "
         "What is my balance afterwards?", c("pay_invoice_from_balance", invoice_id="inv_3005"), outputs=("15",)),
    task("single-late-cancel", "single", "I'm patient pt_samuel. Cancel my appointment ap_2008 this morning, "
         "I'm feeling better. Is there a fee, and how much?",
         c("cancel_appointment", appointment_id="ap_2008", reason="feeling better"), outputs=("25",)),
    task("single-reschedule", "single", "I'm patient pt_arjun. Move my appointment ap_2015 to Thursday 20 March "
         "at 15:30, same doctor.",
         c("reschedule_appointment", appointment_id="ap_2015", date="2025-03-20", time="15:30")),
    task("single-pediatric-slots", "single", "Which times does the pediatrician have free on Monday 17 March?",
         c("list_doctor_slots", date="2025-03-17", specialty="pediatrics"), outputs=("14:00", "14:30", "15:00")),
    # Many dependent steps.
    task("multi-next-visit", "multi", "I'm hana.sato@example.com. When is my next appointment, and with which "
         "doctor?", c("find_patient_by_email", email="hana.sato@example.com"),
         [c("get_appointment", appointment_id=a) for a in ("ap_2001", "ap_2002", "ap_2023")],
         outputs=("Lindqvist", "18")),
    task("multi-book-dermatology", "multi", "I'm Arjun Mehta, born 1999-06-25. Book me the earliest free "
         "dermatology slot on Tuesday 18 March. What time is it, and what is the doctor's fee?",
         [c("find_patient_by_name_and_birthdate", name="Arjun Mehta", birthdate="1999-06-25"),
          c("list_doctor_slots", date="2025-03-18", specialty="dermatology")],
         book("pt_arjun", "dr_lindqvist", "2025-03-18", "10:00"), outputs=("10:00", "95")),
    task("multi-pay-unpaid", "multi", "I'm grace.whitfield@example.com. Please pay all my unpaid invoices from "
         "my account balance and tell me the balance left.",
         c("find_patient_by_email", email="grace.whitfield@example.com"),
         [c("get_invoice", invoice_id=i) for i in ("inv_3006", "inv_3008", "inv_3009")],
         [c("pay_invoice_from_balance", invoice_id=i) for i in ("inv_3006", "inv_3009")], outputs=("185",)),
    task("multi-cancel-for-child", "multi", "I'm Leila Nasser (leila.nasser@example.com). Please cancel my "
         "daughter Noor's upcoming appointment, we have a scheduling conflict. What time was it?",
         c("find_patient_by_email", email="leila.nasser@example.com"), c("get_patient", patient_id="pt_noor"),
         [c("get_appointment", appointment_id=a) for a in ("ap_2009", "ap_2010")],
         c("cancel_appointment", appointment_id="ap_2009", reason="scheduling conflict"), outputs=("14:30",)),
    task("multi-reschedule-earliest", "multi", "I'm patient pt_diego. Move my physiotherapy appointment ap_2004 "
         "to the earliest free slot on Friday 14 March. Which time did I get?",
         c("get_appointment", appointment_id="ap_2004"),
         c("list_doctor_slots", date="2025-03-14", doctor_id="dr_brennan"),
         c("reschedule_appointment", appointment_id="ap_2004", date="2025-03-14", time="09:00"),
         outputs=("9:00",)),
    # Independent calls that belong in one turn.
    task("parallel-doctors", "parallel", "Which doctor is each of the appointments ap_2006, ap_2012 and ap_2016 "
         "with?", [c("get_appointment", appointment_id=a) for a in ("ap_2006", "ap_2012", "ap_2016")],
         outputs=("Brennan", "Lindqvist", "Okoye")),
    task("parallel-invoice-sum", "parallel", "What do invoices inv_3002, inv_3003 and inv_3007 add up to?",
         [c("get_invoice", invoice_id=i) for i in ("inv_3002", "inv_3003", "inv_3007")],
         c("calculate", expression="60 + 95 + 95"), outputs=("250",), builtins=("calculate",)),
    task("parallel-dermatology-days", "parallel", "Which dermatology times are still free on Tuesday 11 March and "
         "on Thursday 13 March?",
         [c("list_doctor_slots", date=d, specialty="dermatology") for d in ("2025-03-11", "2025-03-13")],
         outputs=("9:00", "11:00", "13:00", "14:00")),
    task("parallel-pay-two", "parallel", "I'm patient pt_daniel2. Pay my invoices inv_3007 and inv_3010 from my "
         "balance. How much is left on my account?",
         [c("pay_invoice_from_balance", invoice_id=i) for i in ("inv_3007", "inv_3010")], outputs=("20",)),
    # A call fails (a refusal, a bad argument, an outage) and the agent must get past it.
    task("recovery-birthdate-format", "recovery", "I'm Hana Sato, born 12/04/1988 (day/month/year). How much is "
         "on my account balance?",
         c("find_patient_by_name_and_birthdate", name="Hana Sato", birthdate="12/04/1988"),
         c("find_patient_by_name_and_birthdate", name="Hana Sato", birthdate="1988-04-12"), outputs=("150",)),
    task("recovery-slot-taken", "recovery", "I'm patient pt_hana. Book me with Dr. Okoye (dr_okoye) on Wednesday "
         "12 March at 10:00, or if that is taken, the next free slot after it that day. Which time did I get?",
         book("pt_hana", "dr_okoye", "2025-03-12", "10:00"), book("pt_hana", "dr_okoye", "2025-03-12", "10:30"),
         outputs=("10:30",)),
    task("recovery-completed-visit", "recovery", "I'm patient pt_diego. Cancel appointment ap_2003, I no longer "
         "need it. If it can't be cancelled, change nothing and tell me its status.",
         c("cancel_appointment", appointment_id="ap_2003", reason="no longer needed"), outputs=("completed",)),
    task("recovery-booking-outage", "recovery", "I'm patient pt_samuel. Book me with the physiotherapist, "
         "Dr. Brennan (dr_brennan), on Friday 21 March at 16:00, and give me the appointment id.",
         book("pt_samuel", "dr_brennan", "2025-03-21", "16:00"), book("pt_samuel", "dr_brennan", "2025-03-21", "16:00"),
         outputs=("ap_2100",), faults=(("book_appointment", 1),)),
    task("recovery-short-balance", "recovery", "I'm patient pt_diego. Pay invoice inv_3002 from my balance; if my "
         "balance doesn't cover it, leave it unpaid and tell me how much I'm short.",
         c("pay_invoice_from_balance", invoice_id="inv_3002"), c("calculate", expression="60 - 40"),
         outputs=("20",), builtins=("calculate",)),
    task("recovery-weekend", "recovery", "I'm patient pt_ingrid. Book me the earliest free general-practice slot "
         "on Saturday 15 March, or if there is none that day, the earliest one on Monday 17 March. Which doctor "
         "and time did I get?",
         c("list_doctor_slots", date="2025-03-15", specialty="general practice"),
         c("list_doctor_slots", date="2025-03-17", specialty="general practice"),
         book("pt_ingrid", "dr_okoye", "2025-03-17", "09:00"), outputs=("Okoye", "9:00")),
    # Nothing to look up or change: the answer comes without any tool call.
    task("no-tool-late-fee", "no_tool", "Under the clinic's policy, what does it cost to cancel an appointment "
         "less than a day before it starts?", outputs=("25",)),
    task("no-tool-scope", "no_tool", "Hello! In one sentence, what can you help me with? Mention appointments.",
         outputs=("appointments",)),
    task("no-tool-medical-advice", "no_tool", "Should I take ibuprofen or paracetamol for my headache? Just tell "
         "me, there is nothing to look up.", outputs=("doctor",)),
]
