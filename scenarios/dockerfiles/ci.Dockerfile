# A CI image in two stages: wheels are built in a full Python image, installed into a slim one.
FROM python:3.12 AS deps
WORKDIR /build
COPY requirements.txt .
RUN pip wheel --wheel-dir /wheels -r requirements.txt

FROM python:3.12-slim
WORKDIR /app
COPY --from=deps /wheels /wheels
RUN pip install --no-cache-dir /wheels/*
COPY . .
RUN python -m compileall -q src
CMD ["python", "-m", "app"]
