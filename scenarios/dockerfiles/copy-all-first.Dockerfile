# The naive order: the whole context first, then the dependencies. Any source edit changes COPY . .'s
# content checksum, so the pip install after it misses and runs again (the cascade).
FROM python:3.12-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -r requirements.txt
CMD ["python", "src/app.py"]
