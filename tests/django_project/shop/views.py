from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from tests.django_project.shop.models import Order
from tests.django_project.shop.tasks import send_confirmation


@csrf_exempt
def place_order(request: HttpRequest) -> JsonResponse:
    """Creates an order and enqueues its confirmation in one transaction; ?fail=1 raises
    after both, so that both roll back."""
    try:
        with transaction.atomic():
            order = Order.objects.create(email=request.POST.get("email", "a@b.c"))
            ref = send_confirmation.enqueue(order.id)
            if request.GET.get("fail"):
                raise RuntimeError("payment declined")
    except RuntimeError as exc:
        return JsonResponse({"error": str(exc), "task": ref.id}, status=402)
    return JsonResponse({"order": order.id, "task": ref.id})
