FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY jobs ./jobs
COPY prisma ./prisma
USER node
ENTRYPOINT ["node", "bin/haul.js"]
CMD ["serve", "--host", "0.0.0.0"]
