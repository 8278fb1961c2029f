FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY jobs ./jobs
COPY prisma ./prisma
COPY tsconfig.json ./
# Builds the start-up bundle into node_modules/.cache/haul while the image is still writable
# (bin/haul.js; without it every start would compile the sources with tsx).
RUN node bin/haul.js --help > /dev/null
USER node
ENTRYPOINT ["node", "bin/haul.js"]
CMD ["serve", "--host", "0.0.0.0"]
