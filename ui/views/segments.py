"""Segments: the saved rules a campaign can target or exclude, with their live counts."""

from django.shortcuts import get_object_or_404, render

from campaigns.models import Segment
from campaigns.segments import segment_count, segment_rules_summary
from ui.access import page


@page("campaigns.view_campaign")
def segment_list(request):
    """Every segment with its rules in words; the counts load one by one (htmx)."""
    segments = [(s, segment_rules_summary(s.rules)) for s in Segment.objects.all()]
    return render(request, "ui/segments.html", {"segments": segments})


@page("campaigns.view_campaign")
def segment_count_fragment(request, pk: int):
    """How many contacts the segment selects now."""
    segment = get_object_or_404(Segment, pk=pk)
    return render(request, "ui/_segment_count.html", {"count": segment_count(segment=segment)})
