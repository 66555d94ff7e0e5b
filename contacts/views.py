"""The recipient's opt-out page (public, no login): GET shows the choice, POST applies it."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from contacts.optout import contact_opt_out_by_link, opt_out_contact
from core.params import param_int


@never_cache
def opt_out_page(request: HttpRequest, token: str) -> HttpResponse:
    """Opt out of every message or of one list, after one confirming click (never on GET)."""
    contact = opt_out_contact(token)
    if contact is None:
        return render(request, "contacts/opt_out.html", {"unknown": True}, status=404)
    lists = list(contact.lists.order_by("name"))
    done, error = "", ""
    if request.method == "POST":
        choice = request.POST.get("scope", "all")
        list_id = param_int(choice)  # ASCII digits: "²" is a digit to isdigit(), not to int()
        if choice != "all" and list_id is None:
            error = "Choose what to stop."
        else:
            done = contact_opt_out_by_link(contact=contact, list_id=list_id)
            if not done:
                error = "You are not on that list any more."
            lists = list(contact.lists.order_by("name"))
    context = {"contact": contact, "lists": lists, "done": done, "error": error}
    return render(request, "contacts/opt_out.html", context, status=400 if error else 200)
