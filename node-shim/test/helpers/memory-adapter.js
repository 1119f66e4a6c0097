// A small in-memory IDatabaseAdapter: enough for AgentRuntime.initialize(), actions and the cache.
// Methods the tests never reach answer null through the Proxy below.

export function createMemoryAdapter() {
  const agents = new Map();
  const entities = new Map();
  const worlds = new Map();
  const rooms = new Map();
  const participants = new Map(); // roomId -> Set(entityId)
  const memories = [];
  const cache = new Map();
  const components = new Map();
  const logs = [];
  let ready = false;

  const impl = {
    async init() { ready = true; },
    async initialize() { ready = true; },
    async isReady() { return ready; },
    async close() { ready = false; },
    async getConnection() { return null; },
    async runPluginMigrations() {},
    async ensureEmbeddingDimension() {},

    async getAgent(id) { return agents.get(id) ?? null; },
    async getAgents() { return [...agents.values()]; },
    async createAgent(agent) { agents.set(agent.id, { ...agent }); return true; },
    async updateAgent(id, agent) { agents.set(id, { ...agents.get(id), ...agent }); return true; },
    async deleteAgent(id) { return agents.delete(id); },

    async getEntitiesByIds(ids) { return ids.map((id) => entities.get(id)).filter(Boolean); },
    async getEntitiesForRoom(roomId) { return [...(participants.get(roomId) ?? [])].map((id) => entities.get(id)).filter(Boolean); },
    async createEntities(list) { for (const e of list) entities.set(e.id, { ...e }); return true; },
    async updateEntity(e) { entities.set(e.id, { ...entities.get(e.id), ...e }); },
    async getComponent(entityId, type) { return components.get(`${entityId}:${type}`) ?? null; },
    async getComponents(entityId) { return [...components.values()].filter((c) => c.entityId === entityId); },
    async createComponent(c) { components.set(`${c.entityId}:${c.type}`, c); return true; },
    async updateComponent(c) { components.set(`${c.entityId}:${c.type}`, c); },
    async deleteComponent(id) { for (const [k, c] of components) if (c.id === id) components.delete(k); },

    async createWorld(world) { worlds.set(world.id, { ...world }); return world.id; },
    async getWorld(id) { return worlds.get(id) ?? null; },
    async getAllWorlds() { return [...worlds.values()]; },
    async updateWorld(world) { worlds.set(world.id, { ...world }); },
    async removeWorld(id) { worlds.delete(id); },

    async getRoomsByIds(ids) { return ids.map((id) => rooms.get(id)).filter(Boolean); },
    async createRooms(list) { for (const r of list) rooms.set(r.id, { ...r }); return list.map((r) => r.id); },
    async deleteRoom(id) { rooms.delete(id); },
    async updateRoom(r) { rooms.set(r.id, { ...r }); },
    async getRoomsByWorld(worldId) { return [...rooms.values()].filter((r) => r.worldId === worldId); },
    async getRoomsForParticipant(entityId) { return [...participants].filter(([, s]) => s.has(entityId)).map(([id]) => id); },
    async getRoomsForParticipants(ids) { return [...participants].filter(([, s]) => ids.some((id) => s.has(id))).map(([id]) => id); },

    async addParticipantsRoom(ids, roomId) {
      const set = participants.get(roomId) ?? new Set();
      for (const id of ids) set.add(id);
      participants.set(roomId, set);
      return true;
    },
    async getParticipantsForRoom(roomId) { return [...(participants.get(roomId) ?? [])]; },
    async isRoomParticipant(roomId, entityId) { return participants.get(roomId)?.has(entityId) ?? false; },
    async removeParticipant(entityId, roomId) { return participants.get(roomId)?.delete(entityId) ?? false; },
    async getParticipantsForEntity() { return []; },
    async getParticipantUserState() { return null; },
    async setParticipantUserState() {},

    async createMemory(memory, tableName) {
      const id = memory.id ?? crypto.randomUUID();
      memories.push({ ...memory, id, tableName });
      return id;
    },
    async getMemories({ roomId, tableName, count }) {
      const list = memories.filter((m) => (!roomId || m.roomId === roomId) && (!tableName || m.tableName === tableName));
      return count ? list.slice(-count) : list;
    },
    async getMemoryById(id) { return memories.find((m) => m.id === id) ?? null; },
    async getMemoriesByIds(ids) { return memories.filter((m) => ids.includes(m.id)); },
    async getMemoriesByRoomIds({ roomIds }) { return memories.filter((m) => roomIds.includes(m.roomId)); },
    async searchMemories() { return []; },
    async getCachedEmbeddings() { return []; },
    async countMemories(roomId) { return memories.filter((m) => m.roomId === roomId).length; },

    async log(params) { logs.push({ ...params, id: crypto.randomUUID(), createdAt: new Date() }); },
    async getLogs({ entityId, roomId, type, count } = {}) {
      const found = logs.filter((l) => (!entityId || l.entityId === entityId) && (!roomId || l.roomId === roomId) && (!type || l.type === type));
      return found.reverse().slice(0, count ?? found.length); // newest first, as plugin-sql answers
    },

    async getCache(key) { return cache.get(key); },
    async setCache(key, value) { cache.set(key, value); return true; },
    async deleteCache(key) { return cache.delete(key); },

    async getTasks() { return []; },
    async getTasksByName() { return []; },
    async getRelationships() { return []; },
    async getRelationship() { return null; },
  };

  return new Proxy(impl, {
    get(target, prop) {
      if (prop in target) return target[prop];
      if (typeof prop !== "string" || prop === "then") return undefined;
      return async () => null;
    },
  });
}
