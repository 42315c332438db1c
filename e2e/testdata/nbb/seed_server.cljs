(ns seed-server
  "A sente-lite server that behaves as sente-lite's published nbb server
  (src/sente_lite/server_nbb.cljs in franks42/sente_lite) is observed to,
  written afresh for e2e/seedserver_test.go, not copied:
    - handshake [:chsk/handshake [conn-id nil {:sente-lite-version \"2.0.0\"} true]];
    - every frame is read as one vector, (first v) the event id and (second v)
      the data, so the callback form [[ev data] \"cb\"] reads as the event
      [ev data] with data \"cb\": it is echoed, never answered with a reply;
    - [:chsk/ws-ping] gets [:chsk/ws-pong];
    - subscribe and unsubscribe answer [:sente-lite/subscribed {:channel-id c :success true}];
    - a publish goes to every subscriber as [:sente-lite/channel-msg {...}],
      the publisher included, and gets no answer;
    - anything else is echoed as [:sente-lite/echo {...}].
  It listens on 127.0.0.1, a free port, prints [:port n] on stdout, and exits
  when stdin closes."
  (:require [clojure.edn :as edn]
            ["ws" :as ws]))

(def conns (atom {}))    ; socket -> conn-id
(def channels (atom {})) ; channel-id -> #{socket}
(def counter (atom 0))

(defn- send! [sock ev] (.send sock (pr-str ev)))

(defn- on-message [sock raw]
  (let [v (try (edn/read-string (str raw)) (catch :default _ nil))
        id (when (vector? v) (first v))
        data (when (vector? v) (second v))
        conn-id (get @conns sock)]
    (cond
      (nil? id) nil
      (= id :chsk/ws-ping) (send! sock [:chsk/ws-pong])
      (= id :chsk/ws-pong) nil
      (= id :sente-lite/subscribe)
      (let [ch (:channel-id data)]
        (swap! channels update ch (fnil conj #{}) sock)
        (send! sock [:sente-lite/subscribed {:channel-id ch :success true}]))
      (= id :sente-lite/unsubscribe)
      (let [ch (:channel-id data)]
        (swap! channels update ch disj sock)
        (send! sock [:sente-lite/subscribed {:channel-id ch :success true}]))
      (= id :sente-lite/publish)
      (let [ch (:channel-id data)]
        (doseq [s (get @channels ch)]
          (send! s [:sente-lite/channel-msg {:channel-id ch :data (:data data) :from conn-id}])))
      :else
      (send! sock [:sente-lite/echo {:original-event-id id :original-data data
                                     :conn-id conn-id :timestamp (js/Date.now)}]))))

(defn- on-connection [sock]
  (let [conn-id (str "conn-" (js/Date.now) "-" (swap! counter inc))]
    (swap! conns assoc sock conn-id)
    (send! sock [:chsk/handshake [conn-id nil {:sente-lite-version "2.0.0"} true]])
    (.on sock "message" (fn [raw] (on-message sock raw)))
    (.on sock "close" (fn [_ _]
                        (swap! conns dissoc sock)
                        (swap! channels update-vals (fn [socks] (disj socks sock)))))))

(def server (ws/WebSocketServer. #js {:port 0 :host "127.0.0.1"}))
(.on server "connection" on-connection)
(.on server "listening" (fn [] (println (pr-str [:port (.-port (.address server))]))))
(.on js/process.stdin "end" (fn [] (js/process.exit 0)))
(.resume js/process.stdin)
